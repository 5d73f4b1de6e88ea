"""Which services a change touches: the config, then CODEOWNERS, then top-level directories."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator

from gate.features.codeowners import CodeOwners, PathPattern, PatternError, is_valid_owner

Tier = Literal["critical", "standard", "low"]
Source = Literal["config", "codeowners", "directory"]

TIER_RANK: dict[Tier, int] = {"low": 0, "standard": 1, "critical": 2}
TIER_WORDS: dict[Tier, str] = {"critical": "critical", "standard": "standard", "low": "low risk"}
ROOT_SERVICE = "root"


class ServiceSpec(BaseModel):
    """One entry under `services:` in .github/risk-gate.yml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    paths: list[str] = Field(min_length=1)
    tier: Tier = "standard"
    owners: list[str] = Field(default_factory=list)

    @field_validator("paths")
    @classmethod
    def _patterns_are_valid(cls, paths: list[str]) -> list[str]:
        for path in paths:
            try:
                PathPattern.compile(path)
            except PatternError as error:
                raise ValueError(f"{path!r}: {error}") from None
        return paths

    @field_validator("owners", mode="before")
    @classmethod
    def _owners_are_valid(cls, owners: object) -> object:
        if not isinstance(owners, list):
            return owners
        # YAML cannot start a plain scalar with `@`, so `alice` and `org/team` are accepted too.
        normalised = [
            owner if not isinstance(owner, str) or "@" in owner else f"@{owner}" for owner in owners
        ]
        for owner in normalised:
            if isinstance(owner, str) and not is_valid_owner(owner):
                raise ValueError(f"{owner!r} is not @user, @org/team or an email")
        return normalised


class ServicesConfig(RootModel[dict[str, ServiceSpec]]):
    """`services:` as a mapping of name to spec; order matters (the first match wins)."""

    model_config = ConfigDict(frozen=True)

    @field_validator("root")
    @classmethod
    def _names_are_valid(cls, services: dict[str, ServiceSpec]) -> dict[str, ServiceSpec]:
        for name in services:
            if not name.strip():
                raise ValueError("a service name must not be blank")
        return services

    @cached_property
    def matchers(self) -> list[tuple[Service, list[PathPattern]]]:
        return [
            (
                Service(name, spec.tier, tuple(spec.owners), "config"),
                [PathPattern.compile(path) for path in spec.paths],
            )
            for name, spec in self.root.items()
        ]


@dataclass(frozen=True)
class Service:
    name: str
    tier: Tier
    owners: tuple[str, ...]
    source: Source


def touched_services(
    paths: Sequence[str],
    services_config: ServicesConfig | None,
    codeowners: CodeOwners | None,
) -> list[Service]:
    """The distinct services the changed paths belong to, in first-seen order.

    Each path belongs to the first configured service (in config order) with a matching glob;
    failing that, to its CODEOWNERS owners as a group; failing that (no rule, or a rule with no
    owners), to its top-level directory, or "root" for a file at the repository root.
    """
    configured = services_config.matchers if services_config else []
    seen = {_service_for(path, configured, codeowners): None for path in paths}
    return list(seen)


def _service_for(
    path: str, configured: list[tuple[Service, list[PathPattern]]], codeowners: CodeOwners | None
) -> Service:
    for service, patterns in configured:
        if any(pattern.matches(path) for pattern in patterns):
            return service
    owners = sorted(set(codeowners.owners_for(path))) if codeowners else []
    if owners:
        return Service(", ".join(owners), "standard", tuple(owners), "codeowners")
    return Service(_top_level(path), "standard", (), "directory")


def _top_level(path: str) -> str:
    parts = path.strip("/").split("/")
    return parts[0] if len(parts) > 1 else ROOT_SERVICE


def service_features(services: Sequence[Service]) -> dict[str, float | None]:
    return {
        "services_touched": float(len(services)),
        "max_service_tier": float(max((TIER_RANK[s.tier] for s in services), default=0)),
        "touches_critical": 1.0 if any(s.tier == "critical" for s in services) else 0.0,
    }


def tier_word(tier: Tier) -> str:
    return TIER_WORDS[tier]


def describe_service(service: Service) -> str:
    """A noun phrase for reasons: "the payments service (critical)"."""
    if service.source == "config":
        return f"the {service.name} service ({tier_word(service.tier)})"
    if service.source == "codeowners":
        return f"code owned by {_and(service.owners)}"
    if service.name == ROOT_SERVICE:
        return "files at the repository root"
    return f"the {service.name}/ directory"


def services_reason(services: Sequence[Service], limit: int = 3) -> str | None:
    """ "touches the payments service (critical) and the docs/ directory", most critical first."""
    if not services:
        return None
    ranked = sorted(services, key=lambda s: -TIER_RANK[s.tier])  # stable: ties keep their order
    phrases = [describe_service(service) for service in ranked[:limit]]
    if len(ranked) > limit:
        phrases.append(f"{len(ranked) - limit} more")
    return f"touches {_and(phrases)}"


def _and(words: Iterable[str]) -> str:
    items = list(words)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
