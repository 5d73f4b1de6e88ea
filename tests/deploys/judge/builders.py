"""Scenarios for the judge's tests: step times, count and value sides, the JSON form."""

from __future__ import annotations

import numpy as np

from gate.deploys.judge.spec import MetricSpec, Scenario, Side

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
