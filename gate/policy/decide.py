"""decide(): what happens to an assessed change under the repository's policy. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from gate.model.artifact import Level, Thresholds
from gate.policy.exposure import ExposureFacts, ExposurePolicy, bound, judge_exposure
from gate.policy.shares import MIN_CHANGES, Distribution, key, rank_sentence
from gate.policy.thresholds import ThresholdsPolicy

if TYPE_CHECKING:
    from gate.policy.schema import Policy

Verdict = Literal["pass", "review", "hold"]

VERDICT_FOR_LEVEL: dict[Level, Verdict] = {"low": "pass", "medium": "review", "high": "hold"}


@dataclass(frozen=True)
class DecisionContext:
    """What the decision may look at besides the score: the paths changed, the time, and the
    change's exposure (tiers and coverage), when it is known."""

    paths: Sequence[str] = ()
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    exposure: ExposureFacts | None = None
    # the scores of the repository's recent changes, by the model that scored this one
    distribution: Distribution | None = None


@dataclass(frozen=True)
class Decision:
    verdict: Verdict  # what happens: in shadow mode always "pass"
    level: Level
    rules: list[str] = field(default_factory=list)  # the policy rules that fired, in words
    would: Verdict | None = None  # shadow mode: what enforce mode would have done
    mode: str = "enforce"
    # where the change ranks among the repository's recent changes, when enough are scored
    rank: str | None = None

    @property
    def effective(self) -> Verdict:
        """What the policy decided, whether or not it was enforced."""
        return self.would or self.verdict


def level_for(
    probability: float,
    model_level: Level,
    policy: Policy | None,
    distribution: Distribution | None = None,
) -> tuple[Level, str]:
    """The risk level under the policy's thresholds: explicit ones, the repository's shares, or
    the model's own."""
    thresholds = policy.thresholds if policy is not None else ThresholdsPolicy()
    if thresholds.source == "model":
        return model_level, f"model thresholds -> {model_level}"
    if thresholds.source == "absolute":
        assert thresholds.pass_below is not None and thresholds.hold_at_or_above is not None
        own = Thresholds(thresholds.pass_below, thresholds.hold_at_or_above)
        level = own.level(probability)
        return level, (
            f"policy thresholds (pass below {own.low_below:.2f}, hold at or above "
            f"{own.high_at_or_above:.2f}) -> {level}"
        )
    hold, review = thresholds.hold_share, thresholds.review_share
    if distribution is None or not distribution.enough:
        scored = 0 if distribution is None else distribution.count
        return model_level, (
            f"model thresholds: {scored} of this repository's changes scored, {MIN_CHANGES} "
            f"needed to hold its riskiest {hold:.0%} -> {model_level}"
        )
    own = distribution.thresholds(hold, review)
    level = own.level(key(probability))
    return level, (
        f"repository shares (hold the riskiest {hold:.0%}: at or above "
        f"{own.high_at_or_above:.2f}; review the next {review:.0%}: at or above "
        f"{own.low_below:.2f}; of {distribution.described()}) -> {level}"
    )


def decide(
    probability: float, model_level: Level, policy: Policy | None, context: DecisionContext
) -> Decision:
    """pass, review (visible, not blocking) or hold, with every rule that fired."""
    from gate.policy.freezes import active_freeze
    from gate.policy.globs import matches_any

    distribution = context.distribution
    level, why = level_for(probability, model_level, policy, distribution)
    rank = (
        rank_sentence(probability, distribution)
        if distribution is not None and distribution.enough
        else None
    )
    verdict: Verdict = VERDICT_FOR_LEVEL[level]
    rules = [why]
    if context.exposure is not None:
        exposure_policy = policy.exposure if policy is not None else ExposurePolicy()
        outcome = judge_exposure(context.exposure, exposure_policy)
        bounded = bound(verdict, outcome)
        rules += [f"exposure: {rule}" for rule in outcome.rules]
        verdict = bounded
    if policy is not None:
        quiet = matches_any(policy.never_hold, list(context.paths))
        never = bool(context.paths) and len(quiet) == len(context.paths)
        if never and verdict == "hold":
            verdict = "review"
            rules.append(f"never_hold: every changed path matches ({_few(quiet)}) -> review")
        loud = matches_any(policy.always_hold, list(context.paths))
        if loud:
            verdict = "hold"
            rules.append(f"always_hold: {_few(loud)} -> hold")
        freeze = active_freeze(policy, context.now)
        if freeze is not None and level != "low" and verdict != "hold" and not (never and not loud):
            verdict = "hold"
            rules.append(f"freeze ({freeze.describe()}): above low risk -> hold")
        if policy.mode == "shadow":
            rules.append(f"shadow mode: would {verdict}, passes")
            return Decision("pass", level, rules, would=verdict, mode="shadow", rank=rank)
    return Decision(verdict, level, rules, rank=rank)


def _few(paths: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")
