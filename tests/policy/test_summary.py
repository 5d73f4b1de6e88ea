"""The summary `gate policy check` prints: the defaults and the example, line by line."""

from __future__ import annotations

from gate.policy.schema import DEFAULT_POLICY
from gate.policy.summary import policy_summary
from tests.policy.policy_text import EXAMPLE, valid


def test_the_example_summary_mentions_each_part():
    policy = valid(EXAMPLE.read_text())
    summary = "\n".join(policy_summary(policy))
    for fragment in [
        "mode: enforce",
        "thresholds: pass below 0.25, hold at or above 0.6",
        "service payments: critical",
        "service web: standard",
        "service docs: low risk",
        "always hold (any file matching; wins over never hold): **/migrations/**",
        "never hold (when every file matches): docs/",
        "freeze: weekly, Fri 18:00 to Mon 08:00 (Europe/Berlin)",
        "freeze: 2025-12-20 to 2026-01-04 inclusive (Europe/Berlin): year-end freeze",
        "approvers: users alice, bob; teams acme/release-managers; 1 approval required",
        "on error: fail-open",
        "hold expiry: 24 hours",
        "rollback: watch 2 SLI(s) at https://prometheus.acme.internal:9090 for 30 min in 60 s "
        "steps against 60 min before; on a regression: dispatch workflow rollback.yml; "
        "overrides for staging",
    ]:
        assert fragment in summary


def test_the_default_summary():
    assert policy_summary(DEFAULT_POLICY) == [
        "mode: enforce (holds block until approved)",
        "thresholds: hold the riskiest 5% of this repository's recent changes, review the next "
        "15% (the model's own until 100 changes are scored)",
        "services: none configured (CODEOWNERS, then top-level directories)",
        "always hold (any file matching; wins over never hold): nothing",
        "never hold (when every file matches): nothing",
        "freeze: no freeze windows",
        "approvers: none (the repository's admins and maintainers release holds)",
        "on error: fail-open (a deployment riskgate cannot assess is approved, with a note)",
        "hold expiry: 24 hours",
        "rollback: no post-deploy watch (no SLIs configured)",
        "exposure: critical services need 60% of added lines covered (under it: hold; no "
        "report: review); up to 100 covered source lines without a critical service: at most "
        "pass",
    ]
    assert "exposure: off" in policy_summary(valid("exposure: {enabled: false}\n"))[-1]
    policy = valid(
        "thresholds: {hold_at_or_above: 0.8, pass_below: 0.1}\n"
        "freeze:\n  - days: wed\n    start: '22:00'\n    end: '06:00'\n"
    )
    summary = policy_summary(policy)
    assert "thresholds: pass below 0.1, hold at or above 0.8" in summary
    assert "freeze: weekly, Wed 22:00 to Thu 06:00 (UTC)" in summary


def test_the_summary_of_model_thresholds_and_of_own_shares():
    model = valid("thresholds:\n  use_model_thresholds: true\n")
    assert "thresholds: the model's own" in policy_summary(model)
    shares = valid("thresholds:\n  hold_share: 0.02\n  review_share: 0.1\n")
    assert policy_summary(shares)[1].startswith(
        "thresholds: hold the riskiest 2% of this repository's recent changes, review the next 10%"
    )
