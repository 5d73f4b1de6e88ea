"""Thresholds as shares of a repository's changes, and where a change ranks among them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gate.model.artifact import Thresholds
from gate.policy.config import parse_policy
from gate.policy.decide import DecisionContext, decide
from gate.policy.schema import Policy
from gate.policy.shares import MIN_CHANGES, Distribution, rank_sentence

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def spread(count: int, days: int | None = 90) -> Distribution:
    """`count` distinct scores, evenly spread over (0, 1), in shuffled order."""
    scores = [round((i * 37 % count + 0.5) / count, 6) for i in range(count)]
    return Distribution.of(scores, "m1", "tip", days, 1_700_000_000)


def policy(text: str) -> Policy:
    result = parse_policy(text)
    assert result.ok and result.policy is not None, result.errors
    return result.policy


def verdicts(distribution: Distribution, policy: Policy | None = None) -> dict[str, int]:
    """The verdict each of the distribution's own changes gets under its shares."""
    counts = {"pass": 0, "review": 0, "hold": 0}
    context = DecisionContext(now=NOW, distribution=distribution)
    for score in distribution.scores:
        counts[decide(score, "low", policy, context).verdict] += 1
    return counts


def test_the_default_shares_hold_five_and_review_fifteen_percent_of_its_changes():
    assert verdicts(spread(200)) == {"pass": 160, "review": 30, "hold": 10}
    assert verdicts(spread(1000)) == {"pass": 800, "review": 150, "hold": 50}


def test_own_shares_from_the_policy():
    own = policy("thresholds:\n  hold_share: 0.02\n  review_share: 0.08\n")
    assert verdicts(spread(500), own) == {"pass": 450, "review": 40, "hold": 10}


def test_the_thresholds_sit_on_the_distributions_scores():
    distribution = Distribution.of([0.1] * 150 + [0.5] * 40 + [0.9] * 10, "m1", "t", 90, 0)
    assert distribution.thresholds(0.05, 0.15) == Thresholds(low_below=0.5, high_at_or_above=0.9)
    # no share to hold: only a certain failure would be
    assert distribution.thresholds(0.0, 0.0) == Thresholds(low_below=1.0, high_at_or_above=1.0)


def test_absolute_thresholds_override_the_shares():
    absolute = policy("thresholds:\n  pass_below: 0.9\n  hold_at_or_above: 0.99\n")
    assert verdicts(spread(200), absolute) == {"pass": 180, "review": 18, "hold": 2}
    decision = decide(0.95, "low", absolute, DecisionContext(now=NOW, distribution=spread(200)))
    assert decision.rules[0].startswith("policy thresholds (pass below 0.90")
    assert (
        decision.rank == "riskier than 95% of this repository's changes in the last 90 days "
        "(200 changes)"
    )


def test_the_models_own_thresholds_when_asked_for():
    model = policy("thresholds:\n  use_model_thresholds: true\n")
    decision = decide(0.99, "low", model, DecisionContext(now=NOW, distribution=spread(200)))
    assert (decision.verdict, decision.rules[0]) == ("pass", "model thresholds -> low")


@pytest.mark.parametrize("count", [0, 1, MIN_CHANGES - 1])
def test_too_few_scored_changes_leave_the_models_thresholds_and_say_so(count: int):
    distribution = spread(count) if count else None
    decision = decide(0.99, "medium", None, DecisionContext(now=NOW, distribution=distribution))
    assert decision.level == "medium" and decision.verdict == "review"
    assert decision.rules[0] == (
        f"model thresholds: {count} of this repository's changes scored, 100 needed to hold its "
        "riskiest 5% -> medium"
    )
    assert decision.rank is None


def test_the_shares_rule_says_what_the_thresholds_are():
    decision = decide(0.99, "low", None, DecisionContext(now=NOW, distribution=spread(200)))
    assert decision.rules[0] == (
        "repository shares (hold the riskiest 5%: at or above 0.95; review the next 15%: at or "
        "above 0.80; of 200 changes in the last 90 days) -> high"
    )
    last = decide(0.5, "low", None, DecisionContext(now=NOW, distribution=spread(150, days=None)))
    assert "of its last 150 changes) -> low" in last.rules[0]


def test_the_rank_sentence():
    distribution = spread(200)
    assert rank_sentence(0.97, distribution) == (
        "riskier than 97% of this repository's changes in the last 90 days (200 changes)"
    )
    assert rank_sentence(0.0, distribution).startswith("riskier than 0% ")
    assert rank_sentence(1.0, distribution).startswith("riskier than 100% ")
    assert rank_sentence(0.5, spread(120, days=None)) == (
        "riskier than 50% of this repository's last 120 changes"
    )
    shadow = policy("mode: shadow\n")
    decided = decide(0.97, "low", shadow, DecisionContext(now=NOW, distribution=distribution))
    assert decided.rank is not None and decided.rank.startswith("riskier than 97%")


def test_a_distribution_survives_its_file():
    distribution = spread(120, days=None)
    again = Distribution.from_json(distribution.to_json())
    assert again == distribution and again.scores == tuple(sorted(again.scores))
