"""The value tests: latency (a shift or a wider spread) and gauges, as conformal martingales."""

# * latency and gauges: conformal test martingales. Each canary value is ranked against every
#   value seen before it (the baseline, then the canary so far); under "same distribution"
#   these ranks give independent uniform p-values (ties count against the canary: conservative
#   without randomisation), and a mixture of calibrators bets on small ones. Latency scores
#   the distance from the running median (a shift or a wider spread); gauges score the value
#   in the bad direction. Neighbouring minutes are alike, which exchangeability ignores: the
#   log evidence is scaled by (1 - rho) / (1 + rho), rho the baseline's lag-one
#   autocorrelation (the effective sample size of an AR(1) series).

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

from gate.deploys.judge.evidence import (
    BOUND_LEVEL,
    anytime_confidence,
    log_mean_exp,
    missing_steps,
    relative_change,
)
from gate.deploys.judge.spec import Look, MetricSpec, Point, Side
from gate.deploys.judge.verdict import MetricVerdict, Outcome, num, rel, unknown

# calibrators turning a conformal p-value into a bet, averaged (a Bayes mixture over them):
# power ones k * p^(k-1) pay most for extreme p-values (a shift), step ones (w/p0 below p0,
# (1-w)/(1-p0) above) for many moderately small ones (a variance increase)
POWER_CALIBRATORS = np.array([0.12, 0.25, 0.5])
STEP_CALIBRATORS = np.array([[0.02, 0.35], [0.05, 0.5], [0.1, 0.6]])  # (p0, w)
TAIL_BOUND_LEVEL = 0.8  # for the bad tail of the values, which needs many more points
TAIL_QUANTILE = 0.9
MIN_VALUES_TO_REGRESS = 3
MIN_VALUES_FOR_HEALTHY = 5
MIN_BASELINE_VALUES = 5
MIN_AUTOCORRELATION_POINTS = 10
MAX_AUTOCORRELATION = 0.9


def judge_values(spec: MetricSpec, baseline: Side, canary: Side, look: Look) -> MetricVerdict:
    b_t, b_v = _values(baseline.values, look.now)
    c_t, c_v = _values(canary.values, look.now, after=look.deployed_at)
    tests = _value_tests(spec)
    test = f"conformal rank martingale ({', '.join(tests)})"
    if b_v.size < MIN_BASELINE_VALUES:
        why = f"baseline has {b_v.size} points; {MIN_BASELINE_VALUES} needed to compare with"
        return unknown(spec, test, why)
    before = float(np.median(b_v))
    if c_v.size == 0:
        return unknown(spec, test, "no canary data yet", before)
    after = float(np.median(c_v))
    effect = relative_change(_worse(spec.direction, after - before), before)
    sequence, is_canary = _ordered(b_t, b_v, c_t, c_v)
    # the average of the tests' martingales is itself one: no Bonferroni between them
    log_e = log_mean_exp(np.array([_conformal_evidence(sequence, is_canary, s) for s in tests]))
    # neighbouring minutes are alike (slow minutes come in runs), which exchangeability ignores:
    # count the evidence at the effective sample size of an AR(1) series, as phi does for counts
    rho = _autocorrelation(b_t, b_v)
    log_e *= (1 - rho) / (1 + rho)
    confidence = anytime_confidence(log_e, look.n_metrics)
    fired = log_e >= math.log(1 / look.alpha) and c_v.size >= MIN_VALUES_TO_REGRESS
    tail = _tail(spec, b_v, c_v) if spec.kind == "latency" else None

    def call(outcome: Outcome, line: str) -> MetricVerdict:
        return MetricVerdict(spec.name, outcome, before, after, effect, confidence, test, line)

    summary = f"median {num(before)} -> {num(after)} ({rel(effect)})"
    if tail is not None:
        summary += f", {tail.label} {num(tail.before)} -> {num(tail.after)}"
    summary += f" over {c_v.size} canary points"
    level = _material(spec, _worse(spec.direction, after - before), before)
    erratic = tail is not None and _material(spec, tail.worse, tail.before)
    if fired and (level or erratic):
        what = "its level got worse" if level else "it became erratic (tail up)"
        return call("regressed", f"{summary}; {confidence:.2%} confident {what}: regression")
    if fired:
        worse = max(_worse(spec.direction, after - before), tail.worse if tail else -math.inf)
        summary += (
            f"; a real change but below the {spec.effect_floor:.0%} bar"
            if worse > 0
            else "; a real change, for the better"
        )
    missing = missing_steps(_present(c_t, look), look)
    if missing:
        return call(
            "inconclusive", f"{summary}; data missing for {missing} of {look.completed} steps"
        )
    if c_v.size < MIN_VALUES_FOR_HEALTHY:
        return call("inconclusive", f"{summary}; too few canary points yet")
    if _values_ruled_out(spec, b_v, c_v, before, tail):
        return call(
            "healthy",
            f"{summary}; a {spec.effect_floor:.0%} change is ruled out at "
            f"{BOUND_LEVEL:.0%}: no material regression",
        )
    return call("inconclusive", f"{summary}; cannot rule out a {spec.effect_floor:.0%} change yet")


def _value_tests(spec: MetricSpec) -> list[str]:
    """Latency: distance from the running median (a shift either way or a wider spread; the
    materiality check then asks whether it got worse). Gauges: the value, in the bad direction."""
    if spec.kind == "latency":
        return ["spread"]
    return {"increase": ["up"], "decrease": ["down"], "either": ["up", "down"]}[spec.direction]


def _values(
    points: Sequence[Point], now: int, after: float = -math.inf
) -> tuple[np.ndarray, np.ndarray]:
    """(times, values) with after < t <= now, in time order; missing (NaN) values dropped."""
    table = np.array(points, dtype=float).reshape(-1, 2)
    t, v = table[:, 0], table[:, 1]
    keep = (t > after) & (t <= now) & np.isfinite(v)
    order = np.argsort(t[keep], kind="stable")
    return t[keep][order], v[keep][order]


def _ordered(b_t, b_v, c_t, c_v) -> tuple[np.ndarray, np.ndarray]:
    """Everything in the order it was seen: the baseline, then both sides step by step."""
    keys = np.concatenate([b_t, c_t])
    side = np.concatenate([np.zeros(b_t.size), np.ones(c_t.size)])
    order = np.lexsort((side, keys))  # by time, baseline before canary within a timestamp
    return np.concatenate([b_v, c_v])[order], side[order].astype(bool)


def _conformal_evidence(values: np.ndarray, is_canary: np.ndarray, score: str) -> float:
    """log of a conformal test martingale betting that the canary's values score high.

    The i-th value's p-value is the share of values seen so far (itself included) that score at
    least as high. Under exchangeability these are independent and (with ties counted against
    the canary) conservative uniforms, so the product of k * p^(k-1) is a test supermartingale
    for each k, and so is the average over k. Baseline values enter the bag without a bet.
    """
    positions = np.flatnonzero(is_canary)
    if positions.size == 0:
        return 0.0
    size = positions + 1
    mask = np.arange(values.size)[None, :] <= positions[:, None]
    if score == "spread":  # distance from the median of everything seen so far
        centres = _running_medians(values, size)
        scores = np.abs(values[None, :] - centres[:, None])
        own = scores[np.arange(positions.size), positions]
    else:
        scores = np.broadcast_to(values if score == "up" else -values, mask.shape)
        own = scores[0, positions]
    p = ((scores >= own[:, None]) & mask).sum(axis=1) / size
    return log_mean_exp(_log_bets(p).sum(axis=1))


def _running_medians(values: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The median of values[:size] for each (increasing) size, by insertion into a sorted list."""
    seen = sorted(values[: sizes[0]].tolist())
    medians = []
    for i, size in enumerate(sizes):
        if i:
            for value in values[sizes[i - 1] : size].tolist():
                bisect.insort(seen, value)
        half = size // 2
        medians.append(seen[half] if size % 2 else 0.5 * (seen[half - 1] + seen[half]))
    return np.array(medians)


def _log_bets(p: np.ndarray) -> np.ndarray:
    """log f(p) for each calibrator (rows) and p-value (columns); each f is nonincreasing and
    integrates to 1 over [0, 1], which is what keeps conservative p-values valid."""
    k = POWER_CALIBRATORS[:, None]
    power = np.log(k) + (k - 1) * np.log(p)[None, :]
    p0, w = STEP_CALIBRATORS[:, :1], STEP_CALIBRATORS[:, 1:]
    step = np.where(p[None, :] <= p0, np.log(w / p0), np.log((1 - w) / (1 - p0)))
    return np.vstack([power, step])


def _autocorrelation(times: np.ndarray, values: np.ndarray) -> float:
    """Lag-one rank autocorrelation of the baseline's per-step values, in [0, 0.9]."""
    steps, index, counts = np.unique(times, return_inverse=True, return_counts=True)
    if steps.size < MIN_AUTOCORRELATION_POINTS:
        return 0.0
    if counts.max() == 1:
        per_step = values[np.argsort(times, kind="stable")]
    else:
        per_step = np.array([np.median(values[index == i]) for i in range(steps.size)])
    ranks = np.argsort(np.argsort(per_step, kind="stable"), kind="stable").astype(float)
    if np.ptp(ranks[:-1]) == 0 or np.ptp(ranks[1:]) == 0:
        return 0.0
    rho = float(np.corrcoef(ranks[:-1], ranks[1:])[0, 1])
    return min(max(rho, 0.0), MAX_AUTOCORRELATION)


def _present(times: np.ndarray, look: Look) -> np.ndarray:
    index = np.ceil((times - look.deployed_at) / look.step).astype(int) - 1
    return np.bincount(index[index >= 0], minlength=look.steps)[: look.steps] > 0


def _worse(direction: str, change: float) -> float:
    """The change with "worse" positive (for either: the size of the change)."""
    return {"increase": change, "decrease": -change, "either": abs(change)}[direction]


@dataclass(frozen=True)
class _Tail:
    label: str
    before: float
    after: float
    worse: float  # the change with "worse" positive


def _tail(spec: MetricSpec, base: np.ndarray, can: np.ndarray) -> _Tail:
    """The bad tail of the per-step values: the 90th percentile for "increase", the 10th for
    "decrease", whichever got relatively worse for "either"."""
    lo_b, hi_b = np.quantile(base, [1 - TAIL_QUANTILE, TAIL_QUANTILE])
    lo_c, hi_c = np.quantile(can, [1 - TAIL_QUANTILE, TAIL_QUANTILE])
    high = _Tail(f"p{TAIL_QUANTILE * 100:.0f}", float(hi_b), float(hi_c), float(hi_c - hi_b))
    low = _Tail(f"p{(1 - TAIL_QUANTILE) * 100:.0f}", float(lo_b), float(lo_c), float(lo_b - lo_c))
    if spec.direction == "increase":
        return high
    if spec.direction == "decrease":
        return low
    return max(high, low, key=lambda tail: relative_change(tail.worse, tail.before))


def _material(spec: MetricSpec, worse: float, reference: float) -> bool:
    return worse >= spec.abs_floor and relative_change(worse, reference) >= spec.effect_floor


def _values_ruled_out(
    spec: MetricSpec, base: np.ndarray, can: np.ndarray, before: float, tail: _Tail | None
) -> bool:
    """Order-statistic bounds keep the canary under the bar: the median at 95%, and for latency
    the bad tail at 80% (the second-worst of 30 minutes: one blip does not decide it)."""
    ordered = np.sort(can)
    bar = max(spec.effect_floor * abs(before), spec.abs_floor)
    upper, lower = _quantile_bounds(ordered, 0.5, BOUND_LEVEL)
    ok = {
        "increase": upper - before < bar,
        "decrease": before - lower < bar,
        "either": upper - before < bar and before - lower < bar,
    }[spec.direction]
    if tail is None or not ok:
        return ok
    hi_b, lo_b = np.quantile(base, TAIL_QUANTILE), np.quantile(base, 1 - TAIL_QUANTILE)
    hi_bound = _quantile_bounds(ordered, TAIL_QUANTILE, TAIL_BOUND_LEVEL)[0]
    lo_bound = _quantile_bounds(ordered, 1 - TAIL_QUANTILE, TAIL_BOUND_LEVEL)[1]
    high_ok = not _material(spec, hi_bound - hi_b, hi_b)
    low_ok = not _material(spec, lo_b - lo_bound, lo_b)
    return {"increase": high_ok, "decrease": low_ok, "either": high_ok and low_ok}[spec.direction]


def _quantile_bounds(ordered: np.ndarray, q: float, level: float) -> tuple[float, float]:
    """One-sided distribution-free bounds (upper, lower) on the q-quantile; +-inf when there
    are too few points. The j-th smallest value is at least the quantile exactly when fewer
    than j values fall below it, and that count is Binomial(n, q)."""
    n = ordered.size
    below = special.bdtr(np.arange(n), n, q)  # P(at most j - 1 below) for j = 1..n
    ups = np.flatnonzero(below >= level)
    lows = np.flatnonzero(1 - below >= level)
    upper = float(ordered[ups[0]]) if ups.size else math.inf
    lower = float(ordered[lows[-1]]) if lows.size else -math.inf
    return upper, lower
