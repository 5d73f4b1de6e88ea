"""Deciding what happens to an assessed change: pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from gate.model import Level

Verdict = Literal["pass", "review", "hold"]

VERDICT_FOR_LEVEL: dict[Level, Verdict] = {"low": "pass", "medium": "review", "high": "hold"}


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    level: Level
    rules: list[str] = field(default_factory=list)


def decide(level: Level) -> Decision:
    """Low risk passes, medium is shown for review without blocking, high is held."""
    verdict = VERDICT_FOR_LEVEL[level]
    return Decision(verdict, level, [f"model level {level} -> {verdict}"])
