"""The errors test: zero baselines, blips, low traffic, floors, a baseline beside the canary."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.deploys.judge.replay import replay
from gate.deploys.judge.spec import MetricSpec, Scenario, Side
from tests.deploys.judge.builders import DEPLOYED, STEP, counts, errors_scenario


def test_errors_from_a_zero_baseline_are_detected():
    scenario = errors_scenario(([0] * 60, [1000] * 60), ([3] * 30, [1000] * 30))
    verdict = replay(scenario)
    assert verdict.verdict == "regressed"
    assert verdict.decided_at is not None
    assert verdict.decided_at <= DEPLOYED + 5 * STEP
    metric = verdict.metrics[0]
    assert metric.before == 0
    assert metric.after == pytest.approx(0.003)
    assert metric.confidence >= 0.99
    assert "from zero" in metric.explanation


def test_a_zero_baseline_with_a_clean_canary_is_not_a_regression():
    verdict = replay(errors_scenario(([0] * 60, [1000] * 60), ([0] * 30, [1000] * 30)))
    assert verdict.verdict == "healthy"  # 30,000 clean requests: under 0.01% errors at 95%


def test_a_doubled_error_ratio_rolls_back_within_minutes():
    verdict = replay(errors_scenario(([10] * 60, [1000] * 60), ([20] * 30, [1000] * 30)))
    assert verdict.verdict == "regressed"
    assert verdict.decided_at is not None and verdict.decided_at <= DEPLOYED + 5 * STEP
    assert verdict.metrics[0].effect == pytest.approx(1.0)


def test_one_bad_step_is_a_blip_not_a_regression():
    canary = [10] * 30
    canary[4] = 200  # one minute with 20% errors
    verdict = replay(errors_scenario(([10] * 60, [1000] * 60), (canary, [1000] * 30)))
    assert verdict.verdict != "regressed"
    assert "blip" in verdict.metrics[0].explanation
    # the steps after it were clean: the rest of the window is judged without it
    assert verdict.verdict == "healthy"


def test_a_blip_in_the_last_steps_leaves_the_call_open():
    canary = [10] * 30
    canary[-1] = 200
    verdict = replay(errors_scenario(([10] * 60, [1000] * 60), (canary, [1000] * 30)))
    assert verdict.verdict == "inconclusive"
    assert "watch on" in verdict.metrics[0].explanation


def test_low_traffic_is_inconclusive_not_a_pass_nor_a_rollback():
    verdict = replay(errors_scenario(([0] * 60, [5] * 60), ([0] * 30, [5] * 30)))
    assert verdict.verdict == "inconclusive"
    assert verdict.decided_at is None
    assert "not enough evidence" in verdict.metrics[0].explanation


def test_no_canary_traffic_at_all_is_inconclusive():
    verdict = replay(errors_scenario(([10] * 60, [1000] * 60), ([0] * 30, [0] * 30)))
    assert verdict.verdict == "inconclusive"
    assert verdict.metrics[0].explanation == "no canary requests yet"


def test_a_small_but_significant_change_is_below_the_bar():
    # 1.00% -> 1.10% on a million requests a minute: certain, but only +10%
    base = ([10_000] * 60, [1_000_000] * 60)
    canary = ([11_000] * 30, [1_000_000] * 30)
    verdict = replay(errors_scenario(base, canary))
    assert verdict.verdict == "healthy"
    assert "under the 20% bar" in verdict.metrics[0].explanation
    # the same change regresses when the team's bar is 5%
    assert replay(errors_scenario(base, canary, min_effect=0.05)).verdict == "regressed"


def test_the_absolute_floor_keeps_tiny_error_ratios_from_rolling_back():
    # 0.001% -> 0.003%: three times as many errors, but 2 in 100,000 requests
    base = ([1] * 60, [100_000] * 60)
    canary = ([3] * 30, [100_000] * 30)
    assert replay(errors_scenario(base, canary)).verdict != "regressed"
    assert replay(errors_scenario(base, canary, min_abs=0.0)).verdict == "regressed"


def test_missing_canary_steps_are_inconclusive():
    scenario = errors_scenario(([10] * 60, [1000] * 60), ([10] * 30, [1000] * 30))
    metric, base, canary = scenario.metrics[0]
    gappy = Side(errors=canary.errors[:10], requests=canary.requests[:10])  # then nothing
    scenario = Scenario(DEPLOYED, STEP, [(metric, base, gappy)], ends_at=scenario.ends_at)
    verdict = replay(scenario)
    assert verdict.verdict == "inconclusive"
    assert "data missing for 20 of 30 steps" in verdict.metrics[0].explanation


def test_a_concurrent_baseline_is_compared_step_by_step():
    base = counts([10] * 30, [1000] * 30, before=False)
    same = counts([10] * 30, [1000] * 30, before=False)
    worse = counts([30] * 30, [1000] * 30, before=False)
    spec = MetricSpec("http_errors", "errors")
    end = DEPLOYED + 30 * STEP
    healthy = replay(Scenario(DEPLOYED, STEP, [(spec, base, same)], ends_at=end))
    regressed = replay(Scenario(DEPLOYED, STEP, [(spec, base, worse)], ends_at=end))
    assert healthy.verdict == "healthy"
    assert regressed.verdict == "regressed"
    assert regressed.metrics[0].test == "conditional-binomial mSPRT"


count_steps = st.lists(
    st.tuples(st.integers(0, 2000), st.floats(0, 1)).map(lambda p: (int(p[0] * p[1]), p[0])),
    min_size=1,
    max_size=12,
)


def scenario_from(base: list[tuple[int, int]], canary: list[tuple[int, int]]) -> Scenario:
    return errors_scenario(
        ([e for e, _ in base], [n for _, n in base]),
        ([e for e, _ in canary], [n for _, n in canary]),
    )


@settings(max_examples=60, deadline=None)
@given(base=count_steps, canary=count_steps)
def test_verdicts_are_one_of_three_and_decided_inside_the_window(base, canary):
    scenario = scenario_from(base, canary)
    verdict = replay(scenario)
    assert verdict.verdict in {"healthy", "inconclusive", "regressed"}
    if verdict.decided_at is not None:
        assert scenario.deployed_at < verdict.decided_at <= scenario.end
    else:
        assert verdict.verdict == "inconclusive"
    for metric in verdict.metrics:
        assert 0.0 <= metric.confidence <= 1.0
        assert metric.explanation


@settings(max_examples=60, deadline=None)
@given(base=count_steps, canary=count_steps, factor=st.sampled_from([2, 3, 10]))
def test_more_canary_errors_never_turn_a_regression_healthy(base, canary, factor):
    before = replay(scenario_from(base, canary))
    worse = [(min(n, e * factor), n) for e, n in canary]
    after = replay(scenario_from(base, worse))
    if before.verdict == "regressed":
        assert after.verdict != "healthy"
    if after.verdict == "healthy":
        assert before.verdict != "regressed"
