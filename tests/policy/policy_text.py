"""Parse risk-gate.yml text in tests: the valid policy, or its problems as (line, field, text)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from gate.policy.config import parse_policy
from gate.policy.schema import Policy

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "data" / "risk-gate.example.yml"
DOCS = ROOT / "docs" / "configuration.md"
APPROVERS = "approvers:\n  users: [alice]\n"
BERLIN = ZoneInfo("Europe/Berlin")


def valid(text: str) -> Policy:
    result = parse_policy(text)
    assert result.errors == [], [str(problem) for problem in result.errors]
    assert result.policy is not None
    return result.policy


def errors(text: str) -> list[tuple[int | None, str, str]]:
    result = parse_policy(text)
    assert result.policy is None
    return [(problem.line, problem.field, problem.message) for problem in result.errors]


def the_error(text: str) -> tuple[int | None, str, str]:
    found = errors(text)
    assert len(found) == 1, found
    return found[0]


def warnings(text: str) -> list[tuple[int | None, str, str]]:
    return [
        (problem.line, problem.field, problem.message) for problem in parse_policy(text).warnings
    ]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)
