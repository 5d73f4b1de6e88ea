"""Exposure: how much a change would hurt and how well it is guarded, combined with its likelihood.

The model's probability says how likely a change is to cause a failure. Exposure rules look at
what the model does not weigh for a repository without its own history: the tiers of the
services the change touches and the share of its added lines that tests cover. They can raise a
verdict (a critical service changed with too little coverage is held) or lower one (a small,
well-covered change to low-tier code passes). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Verdict = Literal["pass", "review", "hold"]
RANK: dict[Verdict, int] = {"pass": 0, "review": 1, "hold": 2}

Share = Annotated[float, Field(ge=0.0, le=1.0, strict=False)]


class ExposurePolicy(BaseModel):
    """`exposure:` in .github/risk-gate.yml; the defaults hold the seeds' promise out of the box."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    # the share of added executable lines that tests must cover in a critical service
    min_patch_coverage: Share = 0.6
    # a change to a critical service covered less than that
    critical_under_coverage: Verdict = "hold"
    # a change to a critical service without a coverage report: neither a pass nor a fail
    critical_without_coverage: Verdict = "review"
    # a change of at most this many changed source lines, covered at least min_patch_coverage,
    # touching no critical service: passes even when the model says medium
    small_change_lines: Annotated[int, Field(ge=0)] = 100
    small_covered_change: Verdict = "pass"


@dataclass(frozen=True)
class ServiceCoverage:
    """One touched service's tier and the coverage of the lines the change adds to it."""

    name: str
    tier: str
    executable_added: int | None  # None: no coverage report
    covered_added: int | None

    @property
    def uncovered(self) -> int | None:
        if self.executable_added is None or self.covered_added is None:
            return None
        return self.executable_added - self.covered_added

    @property
    def share(self) -> float | None:
        if not self.executable_added or self.covered_added is None:
            return None
        return self.covered_added / self.executable_added


@dataclass(frozen=True)
class ExposureFacts:
    services: Sequence[ServiceCoverage] = ()
    has_coverage: bool = False
    patch_coverage: float | None = None  # over the whole change
    source_lines: int = 0  # added + deleted lines in source files

    def critical(self) -> list[ServiceCoverage]:
        return [service for service in self.services if service.tier == "critical"]


@dataclass(frozen=True)
class ExposureOutcome:
    floor: Verdict | None = None  # the verdict is at least this
    ceiling: Verdict | None = None  # the verdict is at most this (never below an always_hold)
    rules: list[str] = field(default_factory=list)


def judge_exposure(facts: ExposureFacts, policy: ExposurePolicy) -> ExposureOutcome:
    """The exposure rules that fire for a change, each in words, and the bounds they set."""
    if not policy.enabled:
        return ExposureOutcome()
    minimum = policy.min_patch_coverage
    floor: Verdict | None = None
    rules: list[str] = []
    for service in facts.critical():
        share = service.share
        if not facts.has_coverage:
            floor = _higher(floor, policy.critical_without_coverage)
            rules.append(
                f"{service.name} is critical and no coverage report came for this commit "
                f"-> {policy.critical_without_coverage}"
            )
        elif share is not None and share < minimum:
            floor = _higher(floor, policy.critical_under_coverage)
            rules.append(
                f"{service.name} is critical: {service.covered_added} of "
                f"{service.executable_added} added lines covered ({share:.0%}), under the "
                f"{minimum:.0%} asked of critical services -> {policy.critical_under_coverage}"
            )
    if floor is not None:
        return ExposureOutcome(floor=floor, rules=rules)
    covered = facts.patch_coverage
    if (
        facts.has_coverage
        and covered is not None
        and covered >= minimum
        and facts.source_lines <= policy.small_change_lines
        and not facts.critical()
    ):
        return ExposureOutcome(
            ceiling=policy.small_covered_change,
            rules=[
                f"small ({facts.source_lines} source lines), {covered:.0%} covered, no critical "
                f"service -> at most {policy.small_covered_change}"
            ],
        )
    return ExposureOutcome(rules=rules)


def bound(verdict: Verdict, outcome: ExposureOutcome) -> Verdict:
    """The verdict within the outcome's floor; a ceiling lowers it one step at most, so a change
    the model holds is never passed by exposure alone."""
    if outcome.ceiling is not None and RANK[verdict] - RANK[outcome.ceiling] == 1:
        verdict = outcome.ceiling
    if outcome.floor is not None and RANK[verdict] < RANK[outcome.floor]:
        verdict = outcome.floor
    return verdict


def _higher(current: Verdict | None, new: Verdict) -> Verdict:
    return new if current is None or RANK[new] > RANK[current] else current
