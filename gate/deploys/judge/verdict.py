"""The judge's answer: verdict types, the numbers in its lines, and the JSON `gate judge` prints."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from gate.deploys.judge.spec import Look, MetricSpec

Outcome = Literal["healthy", "inconclusive", "regressed"]


@dataclass(frozen=True)
class MetricVerdict:
    """One metric's call with its numbers and a line a person reads on the incident issue."""

    name: str
    verdict: Outcome
    before: float | None
    after: float | None
    effect: float | None  # relative change in the bad direction; +0.5 = 50% worse
    confidence: float  # 1 - anytime-valid p-value for "it got worse", all metrics accounted
    test: str
    explanation: str


@dataclass(frozen=True)
class Verdict:
    """The deployment's call: regressed if any metric regressed, healthy if all are."""

    verdict: Outcome
    decided_at: int | None  # regressed: the look that fired; healthy: the window end
    metrics: list[MetricVerdict]


def unknown(spec: MetricSpec, test: str, why: str, before: float | None = None) -> MetricVerdict:
    return MetricVerdict(spec.name, "inconclusive", before, None, None, 0.0, test, why)


def verdict_to_dict(verdict: Verdict) -> dict[str, Any]:
    """The JSON shape `gate judge` prints (infinities become null)."""

    def clean(x: float | None) -> float | None:
        return None if x is None or not math.isfinite(x) else round(float(x), 6)

    return {
        "verdict": verdict.verdict,
        "decided_at": verdict.decided_at,
        "metrics": [
            {
                "name": m.name,
                "verdict": m.verdict,
                "before": clean(m.before),
                "after": clean(m.after),
                "effect": clean(m.effect),
                "confidence": clean(m.confidence),
                "test": m.test,
                "explanation": m.explanation,
            }
            for m in verdict.metrics
        ],
    }


def step_end(index: int, look: Look) -> str:
    return (
        f"+{(index + 1) * look.step // 60} min"
        if look.step % 60 == 0
        else (f"+{(index + 1) * look.step} s")
    )


def pct(x: float) -> str:
    return f"{x:.3%}" if x < 0.01 else f"{x:.2%}"


def rel(x: float, from_zero: bool = False) -> str:
    if from_zero:
        return "from zero"
    return "+inf" if math.isinf(x) else f"{x:+.0%}"


def num(x: float) -> str:
    return f"{x:.4g}"


def whole(x: float) -> str:
    return f"{x:,.0f}"
