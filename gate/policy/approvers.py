"""`approvers:` in risk-gate.yml: who may release a held change, and how many must."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator

from gate.features.codeowners import is_valid_owner
from gate.policy.section import Section


def _user(value: Any) -> Any:
    return _approver(value, team=False) if isinstance(value, str) else value


def _team(value: Any) -> Any:
    return _approver(value, team=True) if isinstance(value, str) else value


User = Annotated[str, BeforeValidator(_user)]
Team = Annotated[str, BeforeValidator(_team)]


class Approvers(Section):
    """Who may release a held change: GitHub logins and org/team-slug teams, lower case."""

    users: tuple[User, ...] = ()
    teams: tuple[Team, ...] = ()
    required_approvals: Annotated[int, Field(ge=1, strict=True)] = 1

    @field_validator("users", "teams")
    @classmethod
    def _deduplicated(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(names))

    @field_validator("required_approvals")
    @classmethod
    def _someone_can_approve(cls, value: int, info: ValidationInfo) -> int:
        users, teams = info.data.get("users"), info.data.get("teams")
        if users is None or teams is None:
            return value  # already reported
        if not users and not teams:
            raise ValueError("no approvers configured: nobody could release a held change")
        if not teams and value > len(users):
            count = len(users)
            raise ValueError(
                f"{value} approvals required but only {count} user{'s' * (count > 1)} listed"
            )
        return value

    @property
    def is_empty(self) -> bool:
        return not self.users and not self.teams


def _approver(text: str, *, team: bool) -> str:
    name = text.strip().removeprefix("@").lower()
    if team and "/" not in name:
        raise ValueError(f"{text!r} is not a team: write org/team-slug")
    if not team and "/" in name:
        raise ValueError(f"{text!r} is a team: list it under teams")
    if not is_valid_owner(f"@{name}"):
        what = "org/team-slug" if team else "a GitHub login"
        raise ValueError(f"{text!r} is not {what}")
    return name
