"""What the judge is given: metric specs, each side's series, a scenario and its looks."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["errors", "latency", "gauge"]
Direction = Literal["increase", "decrease", "either"]
Point = tuple[float, float]

KINDS: tuple[str, ...] = ("errors", "latency", "gauge")
DIRECTIONS: tuple[str, ...] = ("increase", "decrease", "either")

ALPHA = 0.01  # false rollback budget per deployment: all metrics, all looks
DEFAULT_MIN_EFFECT = {"errors": 0.2, "latency": 0.2, "gauge": 0.2}
# errors: an absolute floor on the error ratio (0.01 percentage points); values: the metric's
# own unit, unknown here, so none unless the metric says so
DEFAULT_MIN_ABS = {"errors": 1e-4, "latency": 0.0, "gauge": 0.0}


@dataclass(frozen=True)
class Side:
    """One side's series: per-step counts for errors metrics, values otherwise."""

    errors: list[Point] = field(default_factory=list)
    requests: list[Point] = field(default_factory=list)
    values: list[Point] = field(default_factory=list)


@dataclass(frozen=True)
class MetricSpec:
    """What a metric is and which way is worse; effect floors default per kind."""

    name: str
    kind: Kind
    direction: Direction = "increase"
    min_effect: float | None = None  # relative, 0.2 = 20%
    min_abs: float | None = None  # in the metric's unit (error ratio for errors)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: kind must be one of {', '.join(KINDS)}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"{self.name}: direction must be one of {', '.join(DIRECTIONS)}")
        if self.kind == "errors" and self.direction != "increase":
            raise ValueError(f"{self.name}: errors only regress upwards; use direction 'increase'")
        for attr, defaults in (("min_effect", DEFAULT_MIN_EFFECT), ("min_abs", DEFAULT_MIN_ABS)):
            value = getattr(self, attr)
            if value is None:
                object.__setattr__(self, attr, defaults[self.kind])
            elif not finite(value) or value < 0:
                raise ValueError(f"{self.name}: {attr} must be a number >= 0")

    @property
    def effect_floor(self) -> float:
        return float(self.min_effect)  # type: ignore[arg-type]

    @property
    def abs_floor(self) -> float:
        return float(self.min_abs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Scenario:
    """A deployment to judge: baseline and canary per metric, looked at every step."""

    deployed_at: int
    step_seconds: int
    metrics: list[tuple[MetricSpec, Side, Side]]
    ends_at: int | None = None  # window end; default: the last canary point

    @property
    def end(self) -> int:
        if self.ends_at is not None:
            return self.ends_at
        times = [t for _, _, canary in self.metrics for t, _ in canary_points(canary)]
        return math.ceil(max(times)) if times else self.deployed_at

    def looks(self) -> list[int]:
        """The times the live watch judges: one step after another until the window ends."""
        count = math.ceil((self.end - self.deployed_at) / self.step_seconds)
        return [self.deployed_at + k * self.step_seconds for k in range(1, count + 1)]


@dataclass(frozen=True)
class Look:
    """One metric at one moment of the watch: the step grid and its share of alpha."""

    deployed_at: int
    step: int
    now: int
    alpha: float  # this metric's share of ALPHA
    n_metrics: int

    @property
    def steps(self) -> int:  # steps begun by now; data binned into them
        return max(0, math.ceil((self.now - self.deployed_at) / self.step))

    @property
    def completed(self) -> int:  # steps over by now; gaps counted over them
        return max(0, (self.now - self.deployed_at) // self.step)


def finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def canary_points(side: Side) -> list[Point]:
    return [*side.requests, *side.values]
