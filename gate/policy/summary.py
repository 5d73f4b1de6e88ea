"""What a valid policy means, one plain line per fact, for `gate policy check`."""

from __future__ import annotations

from collections.abc import Sequence

from gate.features.services import ServicesConfig, tier_word
from gate.policy.approvers import Approvers
from gate.policy.exposure import ExposurePolicy
from gate.policy.rollback import describe
from gate.policy.schema import Mode, OnError, Policy
from gate.policy.shares import MIN_CHANGES
from gate.policy.thresholds import ThresholdsPolicy


def policy_summary(policy: Policy) -> list[str]:
    """Human lines, one fact each, for `gate policy check`."""
    return [
        _mode_line(policy.mode),
        _thresholds_line(policy.thresholds),
        *_services_lines(policy.services),
        _globs_line("always hold (any file matching; wins over never hold)", policy.always_hold),
        _globs_line("never hold (when every file matches)", policy.never_hold),
        *(
            [f"freeze: {window.describe()}" for window in policy.freeze]
            or ["freeze: no freeze windows"]
        ),
        _approvers_line(policy.approvers),
        _on_error_line(policy.on_error),
        f"hold expiry: {policy.hold_expiry_hours:g} hours",
        describe(policy.rollback),
        _exposure_line(policy.exposure),
    ]


def _exposure_line(exposure: ExposurePolicy) -> str:
    if not exposure.enabled:
        return "exposure: off (tiers and coverage do not bound the verdict)"
    return (
        f"exposure: critical services need {exposure.min_patch_coverage:.0%} of added lines "
        f"covered (under it: {exposure.critical_under_coverage}; no report: "
        f"{exposure.critical_without_coverage}); up to {exposure.small_change_lines} covered "
        f"source lines without a critical service: at most {exposure.small_covered_change}"
    )


def _mode_line(mode: Mode) -> str:
    if mode == "shadow":
        return "mode: shadow (records what would be held; never blocks)"
    return "mode: enforce (holds block until approved)"


def _thresholds_line(thresholds: ThresholdsPolicy) -> str:
    if thresholds.source == "model":
        return "thresholds: the model's own"
    if thresholds.source == "absolute":
        return (
            f"thresholds: pass below {thresholds.pass_below:g}, "
            f"hold at or above {thresholds.hold_at_or_above:g}"
        )
    return (
        f"thresholds: hold the riskiest {thresholds.hold_share:.0%} of this repository's recent "
        f"changes, review the next {thresholds.review_share:.0%} (the model's own until "
        f"{MIN_CHANGES} changes are scored)"
    )


def _services_lines(services: ServicesConfig) -> list[str]:
    if not services.root:
        return ["services: none configured (CODEOWNERS, then top-level directories)"]
    return [
        f"service {name}: {tier_word(spec.tier)}, {', '.join(spec.paths)}"
        + (f", owners {' '.join(spec.owners)}" if spec.owners else "")
        for name, spec in services.root.items()
    ]


def _globs_line(label: str, globs: Sequence[str]) -> str:
    return f"{label}: {', '.join(globs) if globs else 'nothing'}"


def _approvers_line(approvers: Approvers) -> str:
    if approvers.is_empty:
        return "approvers: none (the repository's admins and maintainers release holds)"
    parts = []
    if approvers.users:
        parts.append(f"users {', '.join(approvers.users)}")
    if approvers.teams:
        parts.append(f"teams {', '.join(approvers.teams)}")
    count = approvers.required_approvals
    return f"approvers: {'; '.join(parts)}; {count} approval{'s' if count > 1 else ''} required"


def _on_error_line(on_error: OnError) -> str:
    if on_error == "fail-closed":
        return "on error: fail-closed (a deployment riskgate cannot assess is rejected)"
    return "on error: fail-open (a deployment riskgate cannot assess is approved, with a note)"
