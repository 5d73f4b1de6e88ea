"""The post-deploy judge: hand-made scenarios, invariants, the JSON format and `gate judge`."""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.cli.judge import judge_command
from gate.deploys.judge.replay import judge_step, replay
from gate.deploys.judge.scenario import load_scenario
from gate.deploys.judge.spec import MetricSpec, Scenario, Side
from gate.deploys.judge.verdict import verdict_to_dict

DEPLOYED = 1_767_225_600
STEP = 60


def times(steps: int, before: bool) -> list[int]:
    """Step end times: the `steps` minutes before the deploy, or after it."""
    if before:
        return [DEPLOYED - (steps - 1 - i) * STEP for i in range(steps)]
    return [DEPLOYED + (i + 1) * STEP for i in range(steps)]


def counts(errors: list[int], requests: list[int], before: bool) -> Side:
    ts = times(len(requests), before)
    return Side(
        errors=[(t, e) for t, e in zip(ts, errors, strict=True)],
        requests=[(t, n) for t, n in zip(ts, requests, strict=True)],
    )


def values(series: list[float | None], before: bool) -> Side:
    ts = times(len(series), before)
    return Side(values=[(t, v) for t, v in zip(ts, series, strict=True) if v is not None])


def errors_scenario(
    base: tuple[list[int], list[int]], canary: tuple[list[int], list[int]], **spec
) -> Scenario:
    return Scenario(
        DEPLOYED,
        STEP,
        [
            (
                MetricSpec("http_errors", "errors", **spec),
                counts(*base, True),
                counts(*canary, False),
            )
        ],
        ends_at=DEPLOYED + len(canary[1]) * STEP,
    )


def values_scenario(
    base: list[float | None], canary: list[float | None], kind: str = "latency", **spec
) -> Scenario:
    metric = MetricSpec("latency_p99" if kind == "latency" else "rps", kind, **spec)
    return Scenario(
        DEPLOYED,
        STEP,
        [(metric, values(base, True), values(canary, False))],
        ends_at=DEPLOYED + len(canary) * STEP,
    )


def noise(seed: int, size: int, centre: float, sd: float) -> list[float]:
    """Fixed numbers for a test (a seeded generator: the same on every run)."""
    return [float(x) for x in centre + sd * np.random.default_rng(seed).standard_normal(size)]


# ---------------------------------------------------------------------------- errors


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


# ---------------------------------------------------------------------------- latency, gauges


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


# ---------------------------------------------------------------------------- invariants

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


# ---------------------------------------------------------------------------- the JSON format


def scenario_json(**overrides) -> dict:
    obj = {
        "deployed_at": DEPLOYED,
        "step_seconds": STEP,
        "metrics": [
            {
                "name": "http_errors",
                "kind": "errors",
                "direction": "increase",
                "baseline": {
                    "errors": [[t, 10] for t in times(30, True)],
                    "requests": [[t, 1000] for t in times(30, True)],
                },
                "canary": {
                    "errors": [[t, 40] for t in times(10, False)],
                    "requests": [[t, 1000] for t in times(10, False)],
                },
            },
            {
                "name": "latency_p99",
                "kind": "latency",
                "direction": "increase",
                "baseline": {
                    "values": [
                        [t, v] for t, v in zip(times(30, True), noise(20, 30, 200, 10), strict=True)
                    ]
                },
                "canary": {
                    "values": [
                        [t, v]
                        for t, v in zip(times(10, False), noise(21, 10, 200, 10), strict=True)
                    ]
                },
            },
        ],
    }
    obj.update(overrides)
    return obj


def test_load_scenario_reads_the_json_format():
    scenario = load_scenario(scenario_json())
    assert scenario.deployed_at == DEPLOYED
    assert [spec.name for spec, _, _ in scenario.metrics] == ["http_errors", "latency_p99"]
    assert scenario.metrics[0][0].min_effect == 0.2  # the kind's default
    assert scenario.end == DEPLOYED + 10 * STEP
    assert len(scenario.looks()) == 10


def test_load_scenario_accepts_null_values_and_absent_error_points():
    obj = scenario_json()
    obj["metrics"][1]["canary"]["values"][2][1] = None
    obj["metrics"][0]["baseline"]["errors"] = []  # a counter Prometheus has never seen
    scenario = load_scenario(obj)
    assert len(scenario.metrics[1][2].values) == 9
    assert replay(scenario).verdict in {"regressed", "inconclusive", "healthy"}


def _with(path: list, value) -> dict:
    obj = scenario_json()
    target = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return obj


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ([], "scenario must be a JSON object"),
        (_with(["deployed_at"], "yesterday"), "deployed_at must be a unix time"),
        (_with(["step_seconds"], 0), "step_seconds must be a whole number"),
        (_with(["metrics"], []), "metrics must be a non-empty list"),
        (_with(["metrics", 0, "kind"], "ratio"), "kind must be one of errors, latency, gauge"),
        (_with(["metrics", 1, "direction"], "up"), "direction must be one of"),
        (_with(["metrics", 0, "direction"], "decrease"), "errors only regress upwards"),
        (_with(["metrics", 1, "name"], "http_errors"), "metric names must be unique"),
        (_with(["metrics", 0, "name"], ""), "metrics[0]: name must be a non-empty string"),
        (_with(["metrics", 0, "min_effect"], -1), "min_effect must be a number >= 0"),
        (
            _with(["metrics", 0, "canary"], None),
            "metrics[0] (http_errors) canary must be an object",
        ),
        (_with(["metrics", 0, "baseline", "requests"], "lots"), "requests must be a list"),
        (
            _with(["metrics", 0, "canary", "errors", 0], [1, 2, 3]),
            "canary.errors[0]: expected [t, n]",
        ),
        (_with(["metrics", 0, "canary", "errors", 0, 1], 5000), "5000 errors > 1000 requests"),
        (_with(["metrics", 0, "canary", "requests", 0, 1], -1), "count must be a number >= 0"),
        (_with(["metrics", 1, "canary", "values", 0, 1], "fast"), "value must be a number or null"),
        (
            _with(["metrics", 1, "canary", "values", 0, 0], DEPLOYED - 60),
            "outside the canary window",
        ),
        (_with(["metrics", 0, "canary", "requests", 1, 0], DEPLOYED + 60), "duplicate timestamp"),
        (_with(["ends_at"], DEPLOYED), "ends_at must be after deployed_at"),
    ],
)
def test_load_scenario_says_what_is_wrong(obj, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        load_scenario(obj)


def test_errors_without_requests_at_that_time_are_rejected():
    obj = scenario_json()
    obj["metrics"][0]["canary"]["errors"].append([DEPLOYED + 99 * STEP, 1])
    with pytest.raises(ValueError, match="no requests point at that time"):
        load_scenario(obj)


# ---------------------------------------------------------------------------- gate judge


def test_judge_command_prints_the_verdict_as_json(tmp_path: Path):
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario_json()))
    out, err = io.StringIO(), io.StringIO()
    assert judge_command(path, out, err) == 0
    assert err.getvalue() == ""
    result = json.loads(out.getvalue())
    assert set(result) == {"verdict", "decided_at", "metrics"}
    assert result["verdict"] == "regressed"
    assert DEPLOYED < result["decided_at"] <= DEPLOYED + 10 * STEP
    errors, latency = result["metrics"]
    assert set(errors) == {
        "name", "verdict", "before", "after", "effect", "confidence", "test", "explanation",
    }  # fmt: skip
    assert errors["name"] == "http_errors" and errors["verdict"] == "regressed"
    assert errors["before"] == pytest.approx(0.01) and errors["after"] == pytest.approx(0.04)
    assert errors["effect"] == pytest.approx(3.0)
    assert errors["confidence"] >= 0.99
    assert latency["name"] == "latency_p99"
    assert all(math.isfinite(m["confidence"]) for m in result["metrics"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not JSON (line 1, column 2"),
        (b"\xff\xfe", "not UTF-8 text"),
        (b'{"deployed_at": 1}', "invalid scenario: step_seconds"),
    ],
)
def test_judge_command_rejects_bad_files(tmp_path: Path, content: bytes, message: str):
    path = tmp_path / "scenario.json"
    path.write_bytes(content)
    out, err = io.StringIO(), io.StringIO()
    assert judge_command(path, out, err) == 2
    assert out.getvalue() == ""
    assert message in err.getvalue()


def test_judge_command_reports_an_unreadable_file(tmp_path: Path):
    out, err = io.StringIO(), io.StringIO()
    assert judge_command(tmp_path / "missing.json", out, err) == 2
    assert "cannot read" in err.getvalue()
