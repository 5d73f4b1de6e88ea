"""The scenario file format: what load_scenario reads and what it refuses, and why."""

from __future__ import annotations

import re
from typing import get_args

import pytest

from gate.deploys.judge.replay import replay
from gate.deploys.judge.scenario import SLI_KINDS, in_sli_words, judged_as, load_scenario
from gate.deploys.judge.verdict import verdict_to_dict
from gate.policy.rollback import JUDGE_KIND, SliKind
from tests.deploys.judge.builders import DEPLOYED, STEP, scenario_json, times


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
        (
            _with(["metrics", 0, "kind"], "ratio"),
            "kind must be one of error_ratio, error_count, latency, saturation",
        ),
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


def test_the_kinds_are_risk_gate_yml_sli_kinds():
    assert list(SLI_KINDS) == list(get_args(SliKind))
    assert SLI_KINDS == JUDGE_KIND  # the watch's plan and the file agree on the test
    assert [judged_as(k) for k in ("errors", "gauge", "error_count")] == [
        "errors",
        "gauge",
        "errors",
    ]


def test_the_older_words_replay_to_the_same_verdict_as_the_new():
    old = scenario_json()
    old["metrics"].append(
        {**old["metrics"][1], "name": "cpu", "kind": "gauge", "direction": "either"}
    )
    new = in_sli_words(old)
    assert [m["kind"] for m in old["metrics"]] == ["errors", "latency", "gauge"]
    assert [m["kind"] for m in new["metrics"]] == ["error_ratio", "latency", "saturation"]
    assert load_scenario(new) == load_scenario(old)
    assert verdict_to_dict(replay(load_scenario(new))) == verdict_to_dict(
        replay(load_scenario(old))
    )


def error_count_json(base: list[int], canary: list[int]) -> dict:
    obj = scenario_json()
    obj["metrics"] = [
        {
            "name": "errors",
            "kind": "error_count",
            "baseline": {
                "errors": [[t, n] for t, n in zip(times(len(base), True), base, strict=True)]
            },
            "canary": {
                "errors": [[t, n] for t, n in zip(times(len(canary), False), canary, strict=True)]
            },
        }
    ]
    return obj


def test_an_error_count_is_errors_per_step_with_no_requests():
    steady = replay(load_scenario(error_count_json([12, 9, 14, 11] * 15, [10, 13, 12] * 10)))
    assert steady.verdict == "healthy"
    worse = replay(load_scenario(error_count_json([12, 9, 14, 11] * 15, [60, 55, 70] * 10)))
    assert worse.verdict == "regressed"
    assert worse.metrics[0].before == pytest.approx(11.5)  # errors per step


def test_an_error_count_with_requests_is_refused():
    obj = error_count_json([1] * 10, [1] * 5)
    obj["metrics"][0]["canary"]["requests"] = [[t, 100] for t in times(5, False)]
    with pytest.raises(ValueError, match="an error_count side has errors per step, no requests"):
        load_scenario(obj)
