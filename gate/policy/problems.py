"""What is wrong in a policy file and where: problems, the parse result, did-you-mean hints."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gate.policy.schema import Policy

POLICY_PATH = ".github/risk-gate.yml"


@dataclass(frozen=True)
class PolicyProblem:
    line: int | None
    field: str
    message: str
    filename: str = POLICY_PATH

    def __str__(self) -> str:
        where = self.filename if self.line is None else f"{self.filename} line {self.line}"
        return (
            f"{where}, {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


@dataclass(frozen=True)
class PolicyResult:
    policy: Policy | None
    errors: list[PolicyProblem] = field(default_factory=list)
    warnings: list[PolicyProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class Problems:
    """Collects a file's errors (each once) and warnings, then hands them over in line order."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.errors: list[PolicyProblem] = []
        self.warnings: list[PolicyProblem] = []

    def error(self, line: int | None, field: str, message: str) -> None:
        problem = PolicyProblem(line, field, message, self.filename)
        if problem not in self.errors:
            self.errors.append(problem)

    def warn(self, line: int | None, field: str, message: str) -> None:
        self.warnings.append(PolicyProblem(line, field, message, self.filename))

    def result(self, policy: Policy | None) -> PolicyResult:
        errors, warnings = _by_line(self.errors), _by_line(self.warnings)
        return PolicyResult(None if errors else policy, errors, warnings)


def _by_line(problems: list[PolicyProblem]) -> list[PolicyProblem]:
    return sorted(problems, key=lambda problem: problem.line or 0)


def field_path(loc: Iterable[str | int]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def suggest(word: str, choices: Iterable[str]) -> str:
    options = list(choices)
    folded = [choice for choice in options if choice.lower() == word.lower()]
    close = folded or difflib.get_close_matches(word, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
