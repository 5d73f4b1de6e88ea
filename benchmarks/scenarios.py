"""Seeded post-deploy scenarios: services with and without a regression, for benchmarks.judge."""

# Every scenario is one service with two SLIs watched for 30 one-minute steps after a deploy,
# against the hour before it (the watcher's "after vs before"):
#   http_errors   errors and requests per minute (Prometheus increase(...[1m]))
#   latency_p99   the p99 latency of each minute, in ms (histogram_quantile over a 1m rate)
# The noise is what such series show in practice: Poisson counts whose rate itself wobbles a
# little from minute to minute (overdispersion), and per-minute p99s that are log-normal around
# the service's level with some autocorrelation (slow minutes come in runs).

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from gate.deploys.judge.spec import MetricSpec, Scenario, Side

STEP = 60
BASELINE_STEPS = 60
CANARY_STEPS = 30
DEPLOYED_AT = 1_767_225_600  # 2026-01-01T00:00Z; the daily phase is drawn per scenario
DAY = 86_400


@dataclass(frozen=True)
class Service:
    """One service's normal behaviour and what the deploy did to it."""

    traffic: float  # requests per minute
    error_ratio: float
    p99: float  # ms
    latency_sigma: float = 0.08  # per-minute log-normal noise of the p99
    latency_ar: float = 0.3  # autocorrelation of that noise from one minute to the next
    overdispersion: float = 0.1  # sd of the per-minute log error rate around its level
    seasonal: bool = False
    phase: float = 0.0  # seconds into the day at the deploy
    zero_baseline: bool = False  # no errors at all before the deploy
    # what the deploy changed, as functions of minutes since the deploy (1..30)
    error_factor: Callable[[int], float] = field(default=lambda minute: 1.0)
    latency_factor: Callable[[int], float] = field(default=lambda minute: 1.0)
    latency_spread: float = 1.0  # multiplies latency_sigma after the deploy
    blip_at: int | None = None  # one canary minute with an error burst and slow requests


@dataclass(frozen=True)
class Case:
    """A generated scenario and what an operator knows about the service (for static rules)."""

    scenario: Scenario
    service: Service


@dataclass(frozen=True)
class Family:
    name: str
    regression: bool
    description: str
    draw: Callable[[np.random.Generator], Service]


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def _normal_service(rng: np.random.Generator, **changes) -> Service:
    """A service worth a canary: 100-1,000 requests/s, 0.1-0.5% errors, p99 150-400 ms."""
    return Service(
        traffic=_log_uniform(rng, 6_000, 60_000),
        error_ratio=_log_uniform(rng, 0.001, 0.005),
        p99=float(rng.uniform(150, 400)),
        phase=float(rng.uniform(0, DAY)),
        **changes,
    )


def _constant(factor: float) -> Callable[[int], float]:
    return lambda minute: factor


def _ramp(top: float) -> Callable[[int], float]:
    """1 at the deploy, rising linearly to `top` at the end of the window (a leak)."""
    return lambda minute: 1 + (top - 1) * minute / CANARY_STEPS


FAMILIES: list[Family] = [
    Family("null: steady", False, "no change", lambda rng: _normal_service(rng)),
    Family(
        "null: noisy + blip",
        False,
        "noisier series (rate sd 25%, p99 sd 15%, AR 0.6) and one bad minute in the canary: "
        "8x errors and 2x p99",
        lambda rng: _normal_service(
            rng,
            overdispersion=0.25,
            latency_sigma=0.15,
            latency_ar=0.6,
            blip_at=int(rng.integers(1, CANARY_STEPS + 1)),
        ),
    ),
    Family(
        "null: daily seasonality",
        False,
        "traffic +-40%, error ratio +-15%, p99 +-10% over the day; deploy at a random hour",
        lambda rng: _normal_service(rng, seasonal=True),
    ),
    Family(
        "null: low traffic",
        False,
        "10-60 requests/min, p99 noise sd 25%",
        lambda rng: Service(
            traffic=_log_uniform(rng, 10, 60),
            error_ratio=_log_uniform(rng, 0.001, 0.005),
            p99=float(rng.uniform(150, 400)),
            latency_sigma=0.25,
            phase=float(rng.uniform(0, DAY)),
        ),
    ),
    Family(
        "errors x1.5",
        True,
        "error ratio x1.5 from the deploy",
        lambda rng: _normal_service(rng, error_factor=_constant(1.5)),
    ),
    Family(
        "errors x2",
        True,
        "error ratio x2 from the deploy",
        lambda rng: _normal_service(rng, error_factor=_constant(2.0)),
    ),
    Family(
        "errors x5",
        True,
        "error ratio x5 from the deploy",
        lambda rng: _normal_service(rng, error_factor=_constant(5.0)),
    ),
    Family(
        "errors from zero",
        True,
        "no errors in the hour before; 0.05-0.5% after, at 600-6,000 requests/min "
        "(0.3-30 errors/min)",
        lambda rng: Service(
            traffic=_log_uniform(rng, 600, 6_000),
            error_ratio=_log_uniform(rng, 0.0005, 0.005),
            p99=float(rng.uniform(150, 400)),
            phase=float(rng.uniform(0, DAY)),
            zero_baseline=True,
        ),
    ),
    Family(
        "latency +30%",
        True,
        "p99 x1.3 from the deploy",
        lambda rng: _normal_service(rng, latency_factor=_constant(1.3)),
    ),
    Family(
        "latency variance x3",
        True,
        "same median p99, per-minute spread x3 (sd 8% -> 24%; the slowest 10% of minutes "
        "+23%, just over the 20% bar)",
        lambda rng: _normal_service(rng, latency_spread=3.0),
    ),
    Family(
        "latency variance x4",
        True,
        "same median p99, per-minute spread x4 (sd 8% -> 32%; the slowest 10% of minutes +36%)",
        lambda rng: _normal_service(rng, latency_spread=4.0),
    ),
    Family(
        "gradual drift",
        True,
        "p99 rising linearly to x1.6 over the 30 minutes (a leak)",
        lambda rng: _normal_service(rng, latency_factor=_ramp(1.6)),
    ),
]


def generate(service: Service, rng: np.random.Generator) -> Case:
    """Draw the hour before and the 30 minutes after the deploy for one service."""
    minutes = np.arange(-BASELINE_STEPS + 1, CANARY_STEPS + 1)  # the minute ending at each t
    times = DEPLOYED_AT + minutes * STEP
    after = minutes > 0
    day = 2 * math.pi * (service.phase + minutes * STEP) / DAY
    season = np.sin(day) if service.seasonal else np.zeros(minutes.size)

    traffic = service.traffic * (1 + 0.4 * season)
    requests = rng.poisson(traffic)
    ratio = service.error_ratio * (1 + 0.15 * season)
    ratio = ratio * np.exp(service.overdispersion * rng.standard_normal(minutes.size))
    ratio = ratio * np.array([service.error_factor(int(m)) if m > 0 else 1.0 for m in minutes])
    if service.zero_baseline:
        ratio = np.where(after, ratio, 0.0)

    noise = _ar1(rng, minutes.size, service.latency_ar)
    sigma = np.where(after, service.latency_sigma * service.latency_spread, service.latency_sigma)
    level = service.p99 * (1 + 0.1 * season)
    level = level * np.array([service.latency_factor(int(m)) if m > 0 else 1.0 for m in minutes])
    p99 = level * np.exp(sigma * noise)

    if service.blip_at is not None:
        i = BASELINE_STEPS - 1 + service.blip_at
        ratio[i] *= 8
        p99[i] *= 2
    errors = rng.binomial(requests, np.minimum(ratio, 1.0))

    def counts(mask: np.ndarray) -> Side:
        return Side(
            errors=[(int(t), int(e)) for t, e in zip(times[mask], errors[mask], strict=True)],
            requests=[(int(t), int(n)) for t, n in zip(times[mask], requests[mask], strict=True)],
        )

    def values(mask: np.ndarray) -> Side:
        return Side(
            values=[(int(t), float(v)) for t, v in zip(times[mask], p99[mask], strict=True)]
        )

    scenario = Scenario(
        deployed_at=DEPLOYED_AT,
        step_seconds=STEP,
        metrics=[
            (MetricSpec("http_errors", "errors"), counts(~after), counts(after)),
            (MetricSpec("latency_p99", "latency"), values(~after), values(after)),
        ],
        ends_at=DEPLOYED_AT + CANARY_STEPS * STEP,
    )
    return Case(scenario, service)


def _ar1(rng: np.random.Generator, size: int, phi: float) -> np.ndarray:
    """Standard-normal marginals with lag-one autocorrelation phi."""
    z = rng.standard_normal(size)
    out = np.empty(size)
    out[0] = z[0]
    for i in range(1, size):
        out[i] = phi * out[i - 1] + math.sqrt(1 - phi * phi) * z[i]
    return out


def cases(family: Family, stop: int, seed: int, start: int = 0) -> list[Case]:
    """Repetitions start..stop-1 of a family: repetition i always draws the same scenario."""
    index = FAMILIES.index(family)
    result = []
    for i in range(start, stop):
        rng = np.random.default_rng([seed, index, i])
        result.append(generate(family.draw(rng), rng))
    return result
