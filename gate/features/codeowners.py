"""GitHub CODEOWNERS: parse the file's text and answer who owns a path, as GitHub does."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gate.features.pathglob import Glob, PatternError, compile_glob

# GitHub looks in these places, in this order, and uses the first file it finds.
CODEOWNERS_LOCATIONS: tuple[str, ...] = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")

# GitHub does not load a CODEOWNERS file of 3 MB or more: no rules apply at all.
MAX_CODEOWNERS_BYTES = 3 * 1024 * 1024

_USER = re.compile(r"@[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?")
_TEAM = re.compile(r"@[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class PathPattern:
    """A CODEOWNERS-style path pattern, compiled once; `matches` takes a repo-relative path."""

    text: str
    glob: Glob = field(repr=False, compare=False)

    @classmethod
    def compile(cls, text: str) -> PathPattern:
        return cls(text, compile_glob(text))

    def matches(self, path: str) -> bool:
        return self.glob.matches(path.lstrip("/"))


@dataclass(frozen=True)
class Rule:
    pattern: PathPattern
    owners: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class LineError:
    """A line GitHub marks invalid and skips; line 0 is the file as a whole."""

    line: int
    text: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass(frozen=True)
class CodeOwners:
    rules: tuple[Rule, ...] = ()
    errors: tuple[LineError, ...] = ()

    @classmethod
    def parse(cls, text: str) -> CodeOwners:
        """Rules in file order and the invalid lines that were skipped; never raises."""
        if len(text.encode("utf-8", "surrogateescape")) >= MAX_CODEOWNERS_BYTES:
            return cls(errors=(LineError(0, "", "file is 3 MB or more: GitHub ignores it"),))
        rules: list[Rule] = []
        errors: list[LineError] = []
        for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
            try:
                rule = _parse_line(line, number)
            except PatternError as error:
                errors.append(LineError(number, line, str(error)))
                continue
            if rule is not None:
                rules.append(rule)
        return cls(tuple(rules), tuple(errors))

    def rule_for(self, path: str) -> Rule | None:
        """The last rule whose pattern matches (GitHub: the last match takes precedence)."""
        for rule in reversed(self.rules):
            if rule.pattern.matches(path):
                return rule
        return None

    def owners_for(self, path: str) -> list[str]:
        """Owners of path; empty when no rule matches or the last match names no owners."""
        rule = self.rule_for(path)
        return list(rule.owners) if rule else []


def is_valid_owner(owner: str) -> bool:
    """`@user`, `@org/team` or an email address."""
    return any(form.fullmatch(owner) for form in (_USER, _TEAM, _EMAIL))


def _parse_line(line: str, number: int) -> Rule | None:
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    if stripped.startswith("\\#"):
        raise PatternError("escaping a leading # is not supported (CODEOWNERS syntax)")
    pattern, rest = _split_pattern(stripped)
    owners: list[str] = []
    for token in rest.split():
        if token.startswith("#"):  # an inline comment runs to the end of the line
            break
        if not is_valid_owner(token):
            raise PatternError(f"invalid owner {token!r}: use @user, @org/team or an email")
        owners.append(token)
    return Rule(PathPattern.compile(pattern), tuple(owners), number)


def _split_pattern(line: str) -> tuple[str, str]:
    """The pattern (where `\\ ` is an escaped space) and the rest of the line."""
    index = 0
    while index < len(line) and not line[index].isspace():
        index += 2 if line[index] == "\\" else 1
    return line[:index], line[index:]
