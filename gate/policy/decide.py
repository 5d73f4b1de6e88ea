"""decide(): what happens to an assessed change under the repository's policy. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from gate.model.artifact import Level, Thresholds
from gate.policy.exposure import ExposureFacts, ExposurePolicy, bound, judge_exposure

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


@dataclass(frozen=True)
class Decision:
    verdict: Verdict  # what happens: in shadow mode always "pass"
    level: Level
    rules: list[str] = field(default_factory=list)  # the policy rules that fired, in words
    would: Verdict | None = None  # shadow mode: what enforce mode would have done
    mode: str = "enforce"

    @property
    def effective(self) -> Verdict:
        """What the policy decided, whether or not it was enforced."""
        return self.would or self.verdict


def level_for(probability: float, model_level: Level, policy: Policy | None) -> tuple[Level, str]:
    """The risk level under the policy's thresholds (or the model's own)."""
    thresholds = policy.thresholds if policy is not None else None
    if thresholds is None or thresholds.use_model_thresholds:
        return model_level, f"model thresholds -> {model_level}"
    own = Thresholds(thresholds.pass_below, thresholds.hold_at_or_above)
    level = own.level(probability)
    return level, (
        f"policy thresholds (pass below {own.low_below:.2f}, hold at or above "
        f"{own.high_at_or_above:.2f}) -> {level}"
    )


def decide(
    probability: float, model_level: Level, policy: Policy | None, context: DecisionContext
) -> Decision:
    """pass, review (visible, not blocking) or hold, with every rule that fired."""
    from gate.policy.freezes import active_freeze
    from gate.policy.globs import matches_any

    level, why = level_for(probability, model_level, policy)
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
            return Decision("pass", level, rules, would=verdict, mode="shadow")
    return Decision(verdict, level, rules)


def _few(paths: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")
