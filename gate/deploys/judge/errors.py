"""The errors test: the canary's error counts against the baseline's, as e-processes."""

# * errors, baseline before the deploy: for each candidate rate L, B(L) (an e-value from the
#   baseline's counts that its rate is below L) times C(L) (a Poisson mixture sequential
#   probability ratio test, mSPRT, of the canary's errors against rate L, over ratios >= 1.2).
#   At the true baseline rate B*C is a test supermartingale, so the infimum over L is one too:
#   the unknown rate is profiled out without spending alpha on it, and a zero-error baseline
#   is no hiding place (B grows like exp(L * requests) when it saw no errors at all).
# * errors, baseline beside the canary (points after the deploy): given a step's errors on both
#   sides, the canary's share is binomial with a known null share, whatever the common rate;
#   the product over steps of the mixture likelihood ratio is an exact test martingale.
# * Counts that vary more than Poisson (the baseline's per-step dispersion phi > 1) count as
#   1/phi of an observation each (quasi-likelihood, L^(1/phi) by Jensen). A canary step whose
#   excess errors dwarf every other step's is a blip: the evidence used is the minimum of the
#   e-values with and without it, which is still at most an e-process.

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from gate.deploys.judge.evidence import (
    BOUND_LEVEL,
    anytime_confidence,
    log_mix,
    missing_steps,
)
from gate.deploys.judge.spec import Look, MetricSpec, Side
from gate.deploys.judge.verdict import MetricVerdict, Outcome, pct, rel, step_end, unknown, whole

# the mSPRT mixture over canary/baseline error-rate ratios: most weight on 1 + min_effect times
# these steps (1.2x to 3x for the default 20%), where evidence is scarce; a little on huge ratios
# (errors from nothing, a crash), which need little weight to fire
RATIO_STEPS = np.array([1.0, 2.0, 3.5, 5.0, 7.5, 10.0])
BIG_RATIOS = np.array([5.0, 10.0, 30.0, 100.0, 1000.0])
MIN_GRID_EFFECT = 0.05  # a metric with min_effect 0 still bets on ratios from 1.05
# the baseline side: rates s * lambda the baseline may really have, for "its rate is below lambda"
SHRINK_GRID = np.array([1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.35, 0.2, 0.0])
LOG_SHRINK_WEIGHTS = np.log(np.full(SHRINK_GRID.size, 1 / SHRINK_GRID.size))
BLIP_FACTOR = 3.0  # a blip step has this many times the next step's excess errors ...
BLIP_SIGMAS = 4.0  # ... and this many times its own expected spread
BLIP_SETTLE_STEPS = 3  # clean steps after a blip before it may be set aside for "healthy"
MIN_DISPERSION_POINTS = 5
PSEUDO_ERRORS = 0.5  # Jeffreys: a zero-error baseline is "less than one error", not zero


@dataclass(frozen=True)
class _Counts:
    t: np.ndarray
    errors: np.ndarray
    requests: np.ndarray


def judge_errors(spec: MetricSpec, baseline: Side, canary: Side, look: Look) -> MetricVerdict:
    base = _counts(baseline, look.now)
    c_err, c_req, present = _bin(_after(_counts(canary, look.now), look.deployed_at), look)
    concurrent = bool(np.any(base.t > look.deployed_at))
    test = "conditional-binomial mSPRT" if concurrent else "Poisson mSPRT, baseline rate profiled"
    if concurrent:  # compare step by step with the baseline beside the canary
        b_err, b_req, _ = _bin(_after(base, look.deployed_at), look)
    else:  # one reference rate from the window before the deploy
        b_err, b_req = np.array([base.errors.sum()]), np.array([base.requests.sum()])
    e_b, n_b, e_c, n_c = b_err.sum(), b_req.sum(), c_err.sum(), c_req.sum()
    if n_b <= 0:
        return unknown(spec, test, "no baseline requests to compare with")
    before = e_b / n_b
    if n_c <= 0:
        return unknown(spec, test, "no canary requests yet", before)
    after = e_c / n_c
    effect = (after - before) / _reference(e_b, n_b)

    phi = _dispersion(base.errors, base.requests)
    threshold = math.log(1 / look.alpha)
    grid = _ratio_grid(spec.effect_floor)
    if concurrent:
        robust, worst = _conditional_evidence(b_err, b_req, c_err, c_req, phi, grid)
    else:
        robust, worst = _poisson_evidence(c_err, c_req, e_b, n_b, phi, threshold, grid)
    confidence = anytime_confidence(robust, look.n_metrics)

    def call(outcome: Outcome, line: str) -> MetricVerdict:
        return MetricVerdict(spec.name, outcome, before, after, effect, confidence, test, line)

    summary = (
        f"error ratio {pct(before)} -> {pct(after)} ({rel(effect, e_b == 0)}), "
        f"{whole(e_c)} errors in {whole(n_c)} canary requests"
    )
    if robust >= threshold:
        if _errors_material(spec, b_err, b_req, c_err, c_req, worst, concurrent):
            return call("regressed", f"{summary}; {confidence:.2%} confident it rose: regression")
        summary += f"; a real change but below the {_bar(spec, e_b)}"
    blip = worst >= 0
    if blip:
        summary += (
            f"; one bad step (ending {step_end(worst, look)}: {whole(c_err[worst])} errors in "
            f"{whole(c_req[worst])} requests) set aside as a blip"
        )
        if worst >= look.completed - BLIP_SETTLE_STEPS:
            return call("inconclusive", f"{summary} so far; watch on")
    missing = missing_steps(present, look)
    if missing:
        return call(
            "inconclusive", f"{summary}; data missing for {missing} of {look.completed} steps"
        )
    if blip:  # the steps since have been calm: judge the rest without it
        keep = np.arange(c_err.size) != worst
        c_err, c_req = c_err[keep], c_req[keep]
        if concurrent:
            b_err, b_req = b_err[keep], b_req[keep]
    e_b, n_b, e_c, n_c = b_err.sum() / phi, b_req.sum() / phi, c_err.sum() / phi, c_req.sum() / phi
    ratio_ub, diff_ub = (
        _error_bounds(e_b, n_b, e_c, n_c) if n_b > 0 and n_c > 0 else (math.inf,) * 2
    )
    if ratio_ub < 1 + spec.effect_floor:
        bound = f"at most {rel(ratio_ub - 1)}, under the {spec.effect_floor:.0%} bar,"
    elif diff_ub < spec.abs_floor:
        bound = f"at most +{pct(diff_ub)} points, under the {pct(spec.abs_floor)} floor,"
    else:
        return call(
            "inconclusive",
            f"{summary}; not enough evidence yet to rule out a {spec.effect_floor:.0%} rise "
            "(low traffic?)",
        )
    return call("healthy", f"{summary}; {bound} at {BOUND_LEVEL:.0%}: no material regression")


def _ratio_grid(min_effect: float) -> tuple[np.ndarray, np.ndarray]:
    """The mixture's ratios (all > 1, as the null "no worse" needs) and their log weights."""
    moderate = 1 + max(min_effect, MIN_GRID_EFFECT) * RATIO_STEPS
    big = BIG_RATIOS[moderate[-1] < BIG_RATIOS]
    weights = np.concatenate(
        [np.full(moderate.size, 0.84 / moderate.size), np.full(big.size, 0.16 / max(big.size, 1))]
    )
    return np.concatenate([moderate, big]), np.log(weights / weights.sum())


def _reference(errors: float, requests: float) -> float:
    """The baseline rate to divide by: a zero-error baseline counts as half an error."""
    return (errors if errors > 0 else PSEUDO_ERRORS) / requests


def _errors_material(
    spec: MetricSpec,
    b_err: np.ndarray,
    b_req: np.ndarray,
    c_err: np.ndarray,
    c_req: np.ndarray,
    worst: int,
    concurrent: bool,
) -> bool:
    """Is the rise big enough to act on, with the canary's worst step left out (a blip)?"""
    keep = np.arange(c_err.size) != worst
    if concurrent:
        b_err, b_req = b_err[keep], b_req[keep]
    e_b, n_b, e_c, n_c = b_err.sum(), b_req.sum(), c_err[keep].sum(), c_req[keep].sum()
    if n_b <= 0 or n_c <= 0:
        return False
    before, after = e_b / n_b, e_c / n_c
    relative = (after - before) / _reference(e_b, n_b)
    return relative >= spec.effect_floor and after - before >= spec.abs_floor


def _bar(spec: MetricSpec, baseline_errors: float) -> str:
    if baseline_errors == 0:
        return f"{pct(spec.abs_floor)} floor"
    return f"{spec.effect_floor:.0%} / {pct(spec.abs_floor)} bar"


def _counts(side: Side, now: int) -> _Counts:
    """Per timestamp: requests and errors (an absent errors point means none, as Prometheus)."""
    requests = np.array(side.requests, dtype=float).reshape(-1, 2)
    requests = requests[requests[:, 0] <= now]
    requests = requests[np.argsort(requests[:, 0], kind="stable")]
    errors = np.array(side.errors, dtype=float).reshape(-1, 2)
    t = requests[:, 0]
    found = np.searchsorted(t, errors[:, 0])
    hit = (found < t.size) & (t[np.minimum(found, max(t.size - 1, 0))] == errors[:, 0])
    e = np.zeros(t.size)
    e[found[hit]] = errors[hit, 1]
    return _Counts(t, e, requests[:, 1])


def _after(counts: _Counts, deployed_at: int) -> _Counts:
    keep = counts.t > deployed_at
    return _Counts(counts.t[keep], counts.errors[keep], counts.requests[keep])


def _bin(counts: _Counts, look: Look) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum post-deploy counts into steps 1..steps; also which steps had any point."""
    steps = look.steps
    index = np.ceil((counts.t - look.deployed_at) / look.step).astype(int) - 1
    index = np.clip(index, 0, max(steps - 1, 0))
    errors = np.bincount(index, counts.errors, minlength=steps)[:steps]
    requests = np.bincount(index, counts.requests, minlength=steps)[:steps]
    present = np.bincount(index, minlength=steps)[:steps] > 0
    return errors, requests, present


def _dispersion(errors: np.ndarray, requests: np.ndarray) -> float:
    """Pearson dispersion of the baseline's per-step counts around one rate; 1 = Poisson."""
    keep = requests > 0
    e, n = errors[keep], requests[keep]
    if e.size < MIN_DISPERSION_POINTS or e.sum() == 0:
        return 1.0
    expected = n * e.sum() / n.sum()
    return max(1.0, float(np.sum((e - expected) ** 2 / expected)) / (e.size - 1))


def _garwood_upper(errors: float, requests: float, alpha: float) -> float:
    """Exact one-sided upper bound on a Poisson rate; for 0 errors it is -ln(alpha)/requests."""
    return float(special.gammaincinv(errors + 1, 1 - alpha)) / requests


def _poisson_evidence(
    c_err: np.ndarray,
    c_req: np.ndarray,
    e_b: float,
    n_b: float,
    phi: float,
    threshold: float,
    grid: tuple[np.ndarray, np.ndarray],
) -> tuple[float, int]:
    """(log e-value that the canary's error rate is above the unknown baseline rate, robust to
    a blip; the blip step or -1)."""

    def log_e(errors: float, requests: float) -> float:
        if requests <= 0:
            return 0.0
        return _profiled_log_e(e_b / phi, n_b / phi, errors / phi, requests / phi, grid)

    full = log_e(c_err.sum(), c_req.sum())
    expected = c_req * (e_b + PSEUDO_ERRORS) / n_b
    blip = _blip(c_err - expected, np.sqrt(phi * expected))
    if blip < 0 or full < threshold:  # without the blip it could only be lower
        return full, blip
    return min(full, log_e(c_err.sum() - c_err[blip], c_req.sum() - c_req[blip])), blip


def _profiled_log_e(
    e_b: float, n_b: float, e_c: float, n_c: float, grid: tuple[np.ndarray, np.ndarray]
) -> float:
    """log of inf over rates L of B(L) * C(L): the canary against a baseline seen beforehand.

    C(L) = sum_j w_j r_j^e_c exp(-(r_j - 1) L n_c), r_j > 1, is a test supermartingale over the
    canary's steps whenever the canary's rate is <= L (the Poisson mSPRT).
    B(L) = sum_i v_i s_i^e_b exp((1 - s_i) L n_b), s_i <= 1, has expectation exactly 1 when the
    baseline's rate is L, and is large when the baseline's errors say its rate is below L.
    The baseline is fixed before the first look and independent of the canary, so at the true
    baseline rate B * C is a test supermartingale whenever the canary is no worse; the infimum
    over L is below it, whatever the true rate: anytime-valid with no alpha spent on estimating
    it. In x = L * n_b both logs are log-sum-exps of linear functions, so the sum is convex.
    """
    with np.errstate(divide="ignore"):
        a0 = LOG_SHRINK_WEIGHTS + special.xlogy(e_b, SHRINK_GRID)
    a1 = 1 - SHRINK_GRID
    ratios, log_weights = grid
    b0 = log_weights + e_c * np.log(ratios)
    b1 = -(ratios - 1) * n_c / n_b
    pooled = (e_b + e_c) / (n_b + n_c) * n_b  # x at the pooled rate: near the minimum
    return _min_convex(a0, a1, b0, b1, max(pooled, 1e-3))


def _min_convex(a0, a1, b0, b1, guess: float) -> float:
    """A certified lower bound on min over x >= 0 of LSE(a0 + a1 x) + LSE(b0 + b1 x).

    A geometric grid brackets where the (nondecreasing) slope turns positive, three linear
    grids narrow the bracket 32x each, and the tangent lines at its ends bound the convex
    function from below there: the result never exceeds the true infimum and is within a
    hair of it.
    """
    parts = [(c0[np.isfinite(c0)], c1[np.isfinite(c0)]) for c0, c1 in ((a0, a1), (b0, b1))]

    def at(xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        value = np.zeros(xs.size)
        slope = np.zeros(xs.size)
        for c0, c1 in parts:
            z = c0[:, None] + c1[:, None] * xs[None, :]
            top = z.max(axis=0)
            w = np.exp(z - top)
            total = w.sum(axis=0)
            value += top + np.log(total)
            slope += (w * c1[:, None]).sum(axis=0) / total  # a log-sum-exp's slope: softmax mean
        return value, slope

    f, g = at(np.zeros(1))
    if g[0] >= 0:
        return float(f[0])
    lo, f_lo, g_lo = 0.0, float(f[0]), float(g[0])
    xs = guess * np.geomspace(1e-4, 1e4, 33)
    for _ in range(8):  # widen until the slope turns up
        f, g = at(xs)
        if g[-1] >= 0:
            break
        lo, f_lo, g_lo = float(xs[-1]), float(f[-1]), float(g[-1])
        xs = xs[-1] * np.geomspace(2, 1e8, 32)
    else:
        # the slope stays negative: the canary's requests outnumber the baseline's about 5 to 1
        # or more, and no baseline rate can be ruled out; no evidence either way
        return -math.inf
    for _ in range(3):
        k = int(np.argmax(g >= 0))
        if k > 0:
            lo, f_lo, g_lo = float(xs[k - 1]), float(f[k - 1]), float(g[k - 1])
        hi, f_hi, g_hi = float(xs[k]), float(f[k]), float(g[k])
        xs = np.linspace(lo, hi, 33)[1:]
        f, g = at(xs)
    if g_hi <= g_lo:
        return min(f_lo, f_hi)
    cross = (f_hi - f_lo + g_lo * lo - g_hi * hi) / (g_lo - g_hi)
    return min(f_lo, f_hi, f_lo + g_lo * (cross - lo))


def _conditional_evidence(
    b_err: np.ndarray,
    b_req: np.ndarray,
    c_err: np.ndarray,
    c_req: np.ndarray,
    phi: float,
    grid: tuple[np.ndarray, np.ndarray],
) -> tuple[float, int]:
    """(log e-value from each step's split of its errors between canary and baseline, robust
    to a blip; the blip step or -1).

    Given a step's total errors, the canary's count is binomial with share
    r*n_c/(n_b + r*n_c); under "no regression" (r <= 1) each step's likelihood ratio for r > 1
    has expectation <= 1 whatever the common rate, so the product over steps is a test
    supermartingale with no nuisance parameter; so is the weighted average over the ratios.
    """
    ok = (b_req > 0) & (c_req > 0)
    ratios, log_weights = grid
    r = ratios[:, None]
    total = b_err + c_err
    with np.errstate(divide="ignore", invalid="ignore"):
        per_step = c_err * np.log(r) + total * np.log((b_req + c_req) / (b_req + r * c_req))
        share = c_req / (b_req + c_req)
    per_step = np.where(ok, per_step, 0.0) / phi
    totals = per_step.sum(axis=1)
    full = log_mix(totals, log_weights)
    expected = np.where(ok, total * share, 0.0)
    spread = np.sqrt(phi * expected * np.where(ok, 1 - share, 0.0))
    blip = _blip(np.where(ok, c_err - expected, 0.0), spread)
    if blip < 0:
        return full, blip
    return min(full, log_mix(totals - per_step[:, blip], log_weights)), blip


def _blip(excess: np.ndarray, spread: np.ndarray) -> int:
    """The step that stands out from the canary's others (a blip), or -1 when none does.

    A step stands out when its excess errors are more than BLIP_FACTOR times the next largest
    step's (a sustained regression raises every step alike) and BLIP_SIGMAS times its own
    expected spread (not noise). The evidence then used is the minimum of the e-values with and
    without that step: at most the e-value, so still valid; one bad step never rolls back.
    """
    if excess.size == 0:
        return -1
    order = np.argsort(excess)
    worst = int(order[-1])
    runner_up = max(float(excess[order[-2]]), 0.0) if excess.size > 1 else 0.0
    stands_out = excess[worst] > BLIP_FACTOR * runner_up
    return worst if stands_out and excess[worst] > BLIP_SIGMAS * spread[worst] else -1


def _error_bounds(e_b: float, n_b: float, e_c: float, n_c: float) -> tuple[float, float]:
    """95% upper bounds on the canary/baseline error-rate ratio and on their difference."""
    if e_b > 0:
        # given all errors, the canary's share is binomial: exact (Clopper-Pearson) bound
        share = float(special.betaincinv(e_c + 1, e_b, BOUND_LEVEL))
        ratio = math.inf if share >= 1 else share / (1 - share) * n_b / n_c
    else:
        ratio = math.inf
    lower_b = float(special.gammaincinv(e_b, 1 - BOUND_LEVEL)) / n_b if e_b > 0 else 0.0
    return ratio, _garwood_upper(e_c, n_c, 1 - BOUND_LEVEL) - lower_b
