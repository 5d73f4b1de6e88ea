"""The value tests: latency shifts and spread, gauges by direction, gaps, short baselines."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.deploys.judge.replay import replay
from gate.deploys.judge.verdict import verdict_to_dict
from tests.deploys.judge.builders import DEPLOYED, STEP, noise, values_scenario


def test_a_latency_shift_is_detected():
    base = noise(1, 60, 200, 10)
    canary = [v * 1.5 for v in noise(2, 30, 200, 10)]
    verdict = replay(values_scenario(base, canary))
    assert verdict.verdict == "regressed"
    metric = verdict.metrics[0]
    assert metric.effect == pytest.approx(0.5, abs=0.1)
    assert "level got worse" in metric.explanation


def test_a_variance_increase_with_the_same_median_is_detected():
    base = noise(3, 60, 200, 5)
    canary = noise(4, 30, 200, 40)
    verdict = replay(values_scenario(base, canary))
    assert verdict.verdict == "regressed"
    metric = verdict.metrics[0]
    assert abs(metric.effect) < 0.1  # the median hardly moved
    assert "erratic" in metric.explanation


def test_the_same_latency_is_healthy():
    verdict = replay(values_scenario(noise(5, 60, 200, 10), noise(6, 30, 200, 10)))
    assert verdict.verdict == "healthy"
    assert verdict.decided_at == DEPLOYED + 30 * STEP


def test_one_slow_minute_does_not_roll_back():
    canary = noise(8, 30, 200, 10)
    canary[3] = 900.0
    assert replay(values_scenario(noise(7, 60, 200, 10), canary)).verdict != "regressed"


def test_a_latency_improvement_is_not_a_regression():
    base = noise(9, 60, 200, 10)
    canary = [v * 0.6 for v in noise(10, 30, 200, 10)]
    verdict = replay(values_scenario(base, canary))
    assert verdict.verdict != "regressed"
    assert "for the better" in verdict.metrics[0].explanation


def test_throughput_that_falls_regresses_when_decrease_is_worse():
    base = noise(11, 60, 1000, 30)
    canary = noise(12, 30, 600, 30)
    down = replay(values_scenario(base, canary, kind="gauge", direction="decrease"))
    up = replay(values_scenario(base, canary, kind="gauge", direction="increase"))
    assert down.verdict == "regressed"
    assert down.metrics[0].effect == pytest.approx(0.4, abs=0.05)  # 40% worse
    assert up.verdict != "regressed"


def test_missing_latency_points_are_inconclusive():
    canary: list[float | None] = list(noise(14, 30, 200, 10))
    for i in range(10, 20):
        canary[i] = None  # Prometheus NaN: no requests in those minutes
    verdict = replay(values_scenario(noise(13, 60, 200, 10), canary))
    assert verdict.verdict == "inconclusive"
    assert "data missing for 10 of 30 steps" in verdict.metrics[0].explanation


def test_a_short_baseline_is_inconclusive():
    verdict = replay(values_scenario([200.0, 210.0], noise(15, 30, 400, 10)))
    assert verdict.verdict == "inconclusive"
    assert "baseline has 2 points" in verdict.metrics[0].explanation


@settings(max_examples=40, deadline=None)
@given(
    base=st.lists(st.floats(1, 1000), min_size=0, max_size=40),
    canary=st.lists(st.one_of(st.none(), st.floats(1, 1000)), min_size=1, max_size=15),
)
def test_value_verdicts_are_well_formed(base, canary):
    scenario = values_scenario(base, canary)
    verdict = replay(scenario)
    assert verdict.verdict in {"healthy", "inconclusive", "regressed"}
    assert verdict.decided_at is None or DEPLOYED < verdict.decided_at <= scenario.end
    json.dumps(verdict_to_dict(verdict), allow_nan=False)
