"""Judging look by look: when it decides, what it sees, how metrics combine."""

from __future__ import annotations

import json

from gate.deploys.judge.replay import judge_step, replay
from gate.deploys.judge.spec import Scenario
from gate.deploys.judge.verdict import verdict_to_dict
from tests.deploys.judge.builders import DEPLOYED, STEP, errors_scenario, noise, values_scenario


def test_decided_at_is_the_look_that_fired():
    scenario = errors_scenario(([10] * 60, [1000] * 60), ([40] * 30, [1000] * 30))
    verdict = replay(scenario)
    assert verdict.verdict == "regressed" and verdict.decided_at is not None
    assert (verdict.decided_at - DEPLOYED) % STEP == 0
    assert judge_step(scenario, verdict.decided_at).verdict == "regressed"
    assert judge_step(scenario, verdict.decided_at - STEP).verdict != "regressed"


def test_data_after_now_is_not_seen():
    quiet, loud = [10] * 30, [10] * 5 + [500] * 25
    base = ([10] * 60, [1000] * 60)
    early = DEPLOYED + 5 * STEP
    a = judge_step(errors_scenario(base, (quiet, [1000] * 30)), early)
    b = judge_step(errors_scenario(base, (loud, [1000] * 30)), early)
    assert a == b


def test_any_metric_regressing_regresses_the_deployment():
    errors = errors_scenario(([10] * 60, [1000] * 60), ([10] * 30, [1000] * 30))
    latency = values_scenario(noise(16, 60, 200, 10), [2 * v for v in noise(17, 30, 200, 10)])
    both = Scenario(DEPLOYED, STEP, errors.metrics + latency.metrics, ends_at=errors.ends_at)
    verdict = replay(both)
    assert verdict.verdict == "regressed"
    errors_call, latency_call = verdict.metrics
    assert latency_call.verdict == "regressed"
    assert errors_call.verdict != "regressed"  # still open: the watch stopped minutes in


def test_same_input_same_output():
    scenario = values_scenario(noise(18, 60, 200, 10), noise(19, 30, 230, 10))
    first, second = replay(scenario), replay(scenario)
    assert first == second
    assert json.dumps(verdict_to_dict(first)) == json.dumps(verdict_to_dict(second))
