"""Post-deploy judge: is the canary worse than its baseline? Anytime-valid, explained, pure."""

# How it decides, in short (benchmarks/RESULTS.md, "Post-deploy judge", has the measurements):
#
# * The watch looks after every step, so each test's evidence is an e-process: under "no
#   regression" it is at most a nonnegative supermartingale starting at 1, so by Ville's
#   inequality it ever reaches 1/a with probability at most a, however many looks are taken and
#   whenever the watch stops. ALPHA is shared evenly by a deployment's metrics (Bonferroni).
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
# * latency and gauges: conformal test martingales. Each canary value is ranked against every
#   value seen before it (the baseline, then the canary so far); under "same distribution"
#   these ranks give independent uniform p-values (ties count against the canary: conservative
#   without randomisation), and a mixture of calibrators bets on small ones. Latency scores
#   the distance from the running median (a shift or a wider spread); gauges score the value
#   in the bad direction. Neighbouring minutes are alike, which exchangeability ignores: the
#   log evidence is scaled by (1 - rho) / (1 + rho), rho the baseline's lag-one
#   autocorrelation (the effective sample size of an AR(1) series).
# * A significant change rolls back only when it is also material: relative effect >= min_effect
#   and absolute change >= min_abs, measured robustly (the median, and for latency the 90th
#   percentile, of the per-step values; the error ratio without a blip step).
# * healthy needs evidence too: no gaps and a 95% bound that rules out a material regression.
#   Otherwise the metric is inconclusive (low traffic, missing data): extend or ask a person.

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import special

Kind = Literal["errors", "latency", "gauge"]
Direction = Literal["increase", "decrease", "either"]
Outcome = Literal["healthy", "inconclusive", "regressed"]
Point = tuple[float, float]

KINDS: tuple[str, ...] = ("errors", "latency", "gauge")
DIRECTIONS: tuple[str, ...] = ("increase", "decrease", "either")

ALPHA = 0.01  # false rollback budget per deployment: all metrics, all looks
DEFAULT_MIN_EFFECT = {"errors": 0.2, "latency": 0.2, "gauge": 0.2}
# errors: an absolute floor on the error ratio (0.01 percentage points); values: the metric's
# own unit, unknown here, so none unless the metric says so
DEFAULT_MIN_ABS = {"errors": 1e-4, "latency": 0.0, "gauge": 0.0}
# the mSPRT mixture over canary/baseline error-rate ratios: most weight on 1 + min_effect times
# these steps (1.2x to 3x for the default 20%), where evidence is scarce; a little on huge ratios
# (errors from nothing, a crash), which need little weight to fire
RATIO_STEPS = np.array([1.0, 2.0, 3.5, 5.0, 7.5, 10.0])
BIG_RATIOS = np.array([5.0, 10.0, 30.0, 100.0, 1000.0])
MIN_GRID_EFFECT = 0.05  # a metric with min_effect 0 still bets on ratios from 1.05
# the baseline side: rates s * lambda the baseline may really have, for "its rate is below lambda"
SHRINK_GRID = np.array([1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.35, 0.2, 0.0])
LOG_SHRINK_WEIGHTS = np.log(np.full(SHRINK_GRID.size, 1 / SHRINK_GRID.size))
# calibrators turning a conformal p-value into a bet, averaged (a Bayes mixture over them):
# power ones k * p^(k-1) pay most for extreme p-values (a shift), step ones (w/p0 below p0,
# (1-w)/(1-p0) above) for many moderately small ones (a variance increase)
POWER_CALIBRATORS = np.array([0.12, 0.25, 0.5])
STEP_CALIBRATORS = np.array([[0.02, 0.35], [0.05, 0.5], [0.1, 0.6]])  # (p0, w)
BLIP_FACTOR = 3.0  # a blip step has this many times the next step's excess errors ...
BLIP_SIGMAS = 4.0  # ... and this many times its own expected spread
BLIP_SETTLE_STEPS = 3  # clean steps after a blip before it may be set aside for "healthy"
BOUND_LEVEL = 0.95  # for the "healthy" bounds (not a rollback decision)
TAIL_BOUND_LEVEL = 0.8  # for the bad tail of the values, which needs many more points
TAIL_QUANTILE = 0.9
MAX_MISSING_SHARE = 0.1  # of the canary's steps; more and the metric is inconclusive
MIN_DISPERSION_POINTS = 5
MIN_VALUES_TO_REGRESS = 3
MIN_VALUES_FOR_HEALTHY = 5
MIN_BASELINE_VALUES = 5
MIN_AUTOCORRELATION_POINTS = 10
MAX_AUTOCORRELATION = 0.9
PSEUDO_ERRORS = 0.5  # Jeffreys: a zero-error baseline is "less than one error", not zero


# ---------------------------------------------------------------------------- data types


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
            elif not _finite(value) or value < 0:
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
        times = [t for _, _, canary in self.metrics for t, _ in _canary_points(canary)]
        return math.ceil(max(times)) if times else self.deployed_at

    def looks(self) -> list[int]:
        """The times the live watch judges: one step after another until the window ends."""
        count = math.ceil((self.end - self.deployed_at) / self.step_seconds)
        return [self.deployed_at + k * self.step_seconds for k in range(1, count + 1)]


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


@dataclass(frozen=True)
class _Look:
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


# ---------------------------------------------------------------------------- judging


def judge_step(scenario: Scenario, now: int, alpha: float = ALPHA) -> Verdict:
    """The call given only the data with t <= now, as the live watch sees it at that moment."""
    n = len(scenario.metrics)
    verdicts = [
        _judge_metric(
            spec,
            baseline,
            canary,
            _Look(scenario.deployed_at, scenario.step_seconds, now, alpha / n, n),
        )
        for spec, baseline, canary in scenario.metrics
    ]
    outcomes = {v.verdict for v in verdicts}
    if "regressed" in outcomes:
        return Verdict("regressed", now, verdicts)
    if outcomes == {"healthy"}:
        return Verdict("healthy", now, verdicts)
    return Verdict("inconclusive", None, verdicts)


def replay(scenario: Scenario, alpha: float = ALPHA) -> Verdict:
    """Walk the window look by look; stop at the first regression, else the call at the end.

    decided_at is the look that fired for regressed, the window's last look for healthy and
    None for inconclusive (nothing was decided: extend the watch or ask a person).
    """
    last = None
    for now in scenario.looks():
        last = judge_step(scenario, now, alpha)
        if last.verdict == "regressed":
            return last
    if last is None:
        return judge_step(scenario, scenario.deployed_at, alpha)
    return last


def _judge_metric(spec: MetricSpec, baseline: Side, canary: Side, look: _Look) -> MetricVerdict:
    """One metric's call at one look."""
    if spec.kind == "errors":
        return _judge_errors(spec, baseline, canary, look)
    return _judge_values(spec, baseline, canary, look)


# ---------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class _Counts:
    t: np.ndarray
    errors: np.ndarray
    requests: np.ndarray


def _judge_errors(spec: MetricSpec, baseline: Side, canary: Side, look: _Look) -> MetricVerdict:
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
        return _unknown(spec, test, "no baseline requests to compare with")
    before = e_b / n_b
    if n_c <= 0:
        return _unknown(spec, test, "no canary requests yet", before)
    after = e_c / n_c
    effect = (after - before) / _reference(e_b, n_b)

    phi = _dispersion(base.errors, base.requests)
    threshold = math.log(1 / look.alpha)
    grid = _ratio_grid(spec.effect_floor)
    if concurrent:
        robust, worst = _conditional_evidence(b_err, b_req, c_err, c_req, phi, grid)
    else:
        robust, worst = _poisson_evidence(c_err, c_req, e_b, n_b, phi, threshold, grid)
    confidence = _confidence(robust, look.n_metrics)

    def call(outcome: Outcome, line: str) -> MetricVerdict:
        return MetricVerdict(spec.name, outcome, before, after, effect, confidence, test, line)

    summary = (
        f"error ratio {_pct(before)} -> {_pct(after)} ({_rel(effect, e_b == 0)}), "
        f"{_int(e_c)} errors in {_int(n_c)} canary requests"
    )
    if robust >= threshold:
        if _errors_material(spec, b_err, b_req, c_err, c_req, worst, concurrent):
            return call("regressed", f"{summary}; {confidence:.2%} confident it rose: regression")
        summary += f"; a real change but below the {_bar(spec, e_b)}"
    blip = worst >= 0
    if blip:
        summary += (
            f"; one bad step (ending {_step_end(worst, look)}: {_int(c_err[worst])} errors in "
            f"{_int(c_req[worst])} requests) set aside as a blip"
        )
        if worst >= look.completed - BLIP_SETTLE_STEPS:
            return call("inconclusive", f"{summary} so far; watch on")
    missing = _missing(present, look)
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
        bound = f"at most {_rel(ratio_ub - 1)}, under the {spec.effect_floor:.0%} bar,"
    elif diff_ub < spec.abs_floor:
        bound = f"at most +{_pct(diff_ub)} points, under the {_pct(spec.abs_floor)} floor,"
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


def _unknown(spec: MetricSpec, test: str, why: str, before: float | None = None) -> MetricVerdict:
    return MetricVerdict(spec.name, "inconclusive", before, None, None, 0.0, test, why)


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
        return f"{_pct(spec.abs_floor)} floor"
    return f"{spec.effect_floor:.0%} / {_pct(spec.abs_floor)} bar"


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


def _bin(counts: _Counts, look: _Look) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum post-deploy counts into steps 1..steps; also which steps had any point."""
    steps = look.steps
    index = np.ceil((counts.t - look.deployed_at) / look.step).astype(int) - 1
    index = np.clip(index, 0, max(steps - 1, 0))
    errors = np.bincount(index, counts.errors, minlength=steps)[:steps]
    requests = np.bincount(index, counts.requests, minlength=steps)[:steps]
    present = np.bincount(index, minlength=steps)[:steps] > 0
    return errors, requests, present


def _missing(present: np.ndarray, look: _Look) -> int:
    """Completed steps without data, when more than the tolerated share (else 0)."""
    done = present[: look.completed]
    missing = int(done.size - done.sum())
    return missing if missing > math.floor(MAX_MISSING_SHARE * look.completed) else 0


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
    full = _log_mix(totals, log_weights)
    expected = np.where(ok, total * share, 0.0)
    spread = np.sqrt(phi * expected * np.where(ok, 1 - share, 0.0))
    blip = _blip(np.where(ok, c_err - expected, 0.0), spread)
    if blip < 0:
        return full, blip
    return min(full, _log_mix(totals - per_step[:, blip], log_weights)), blip


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


# ---------------------------------------------------------------------------- values


def _judge_values(spec: MetricSpec, baseline: Side, canary: Side, look: _Look) -> MetricVerdict:
    b_t, b_v = _values(baseline.values, look.now)
    c_t, c_v = _values(canary.values, look.now, after=look.deployed_at)
    tests = _value_tests(spec)
    test = f"conformal rank martingale ({', '.join(tests)})"
    if b_v.size < MIN_BASELINE_VALUES:
        why = f"baseline has {b_v.size} points; {MIN_BASELINE_VALUES} needed to compare with"
        return _unknown(spec, test, why)
    before = float(np.median(b_v))
    if c_v.size == 0:
        return _unknown(spec, test, "no canary data yet", before)
    after = float(np.median(c_v))
    effect = _relative(_worse(spec.direction, after - before), before)
    sequence, is_canary = _ordered(b_t, b_v, c_t, c_v)
    # the average of the tests' martingales is itself one: no Bonferroni between them
    log_e = _log_mean_exp(np.array([_conformal_evidence(sequence, is_canary, s) for s in tests]))
    # neighbouring minutes are alike (slow minutes come in runs), which exchangeability ignores:
    # count the evidence at the effective sample size of an AR(1) series, as phi does for counts
    rho = _autocorrelation(b_t, b_v)
    log_e *= (1 - rho) / (1 + rho)
    confidence = _confidence(log_e, look.n_metrics)
    fired = log_e >= math.log(1 / look.alpha) and c_v.size >= MIN_VALUES_TO_REGRESS
    tail = _tail(spec, b_v, c_v) if spec.kind == "latency" else None

    def call(outcome: Outcome, line: str) -> MetricVerdict:
        return MetricVerdict(spec.name, outcome, before, after, effect, confidence, test, line)

    summary = f"median {_num(before)} -> {_num(after)} ({_rel(effect)})"
    if tail is not None:
        summary += f", {tail.label} {_num(tail.before)} -> {_num(tail.after)}"
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
    missing = _missing(_present(c_t, look), look)
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
    return _log_mean_exp(_log_bets(p).sum(axis=1))


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


def _present(times: np.ndarray, look: _Look) -> np.ndarray:
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
    return max(high, low, key=lambda tail: _relative(tail.worse, tail.before))


def _material(spec: MetricSpec, worse: float, reference: float) -> bool:
    return worse >= spec.abs_floor and _relative(worse, reference) >= spec.effect_floor


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


# ---------------------------------------------------------------------------- small helpers


def _log_mix(log_ratios: np.ndarray, log_weights: np.ndarray) -> float:
    """log of the weighted average of exp(log_ratios)."""
    x = log_ratios + log_weights
    top = float(np.max(x))
    return top + math.log(float(np.sum(np.exp(x - top))))


def _log_mean_exp(x: np.ndarray) -> float:
    top = float(np.max(x))
    return top + math.log(float(np.mean(np.exp(x - top))))


def _confidence(log_e: float, multiplicity: float) -> float:
    """1 - the anytime-valid p-value min(1, multiplicity / e): >= 1 - ALPHA when it fires."""
    if log_e <= math.log(multiplicity):
        return 0.0
    return 1.0 - multiplicity * math.exp(-min(log_e, 700.0))


def _relative(change: float, reference: float) -> float:
    if reference != 0:
        return change / abs(reference)
    return math.inf if change > 0 else (-math.inf if change < 0 else 0.0)


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _canary_points(side: Side) -> list[Point]:
    return [*side.requests, *side.values]


def _step_end(index: int, look: _Look) -> str:
    return (
        f"+{(index + 1) * look.step // 60} min"
        if look.step % 60 == 0
        else (f"+{(index + 1) * look.step} s")
    )


def _pct(x: float) -> str:
    return f"{x:.3%}" if x < 0.01 else f"{x:.2%}"


def _rel(x: float, from_zero: bool = False) -> str:
    if from_zero:
        return "from zero"
    return "+inf" if math.isinf(x) else f"{x:+.0%}"


def _num(x: float) -> str:
    return f"{x:.4g}"


def _int(x: float) -> str:
    return f"{x:,.0f}"


# ---------------------------------------------------------------------------- JSON


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


def load_scenario(obj: Any) -> Scenario:
    """Build a Scenario from its JSON form; ValueError says what is wrong and where."""
    if not isinstance(obj, Mapping):
        raise ValueError("scenario must be a JSON object")
    deployed_at = _timestamp(obj, "deployed_at")
    step = obj.get("step_seconds")
    if not _finite(step) or step <= 0 or step != int(step):
        raise ValueError("step_seconds must be a whole number of seconds > 0")
    ends_at = _timestamp(obj, "ends_at") if obj.get("ends_at") is not None else None
    if ends_at is not None and ends_at <= deployed_at:
        raise ValueError("ends_at must be after deployed_at")
    metrics = obj.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        raise ValueError("metrics must be a non-empty list")
    parsed = [_metric(m, i, deployed_at, ends_at) for i, m in enumerate(metrics)]
    names = [spec.name for spec, _, _ in parsed]
    if len(set(names)) != len(names):
        raise ValueError("metric names must be unique")
    return Scenario(deployed_at, int(step), parsed, ends_at)


def _timestamp(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key)
    if not _finite(value):
        raise ValueError(f"{key} must be a unix time in seconds")
    return int(value)


def _metric(obj: Any, index: int, deployed_at: int, ends_at: int | None):
    where = f"metrics[{index}]"
    if not isinstance(obj, Mapping):
        raise ValueError(f"{where} must be an object")
    name = obj.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{where}: name must be a non-empty string")
    where = f"{where} ({name})"
    kind = obj.get("kind")
    if kind not in KINDS:
        raise ValueError(f"{where}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
    direction = obj.get("direction", "increase")
    extra = {k: obj.get(k) for k in ("min_effect", "min_abs") if obj.get(k) is not None}
    try:
        spec = MetricSpec(name, kind, direction, **extra)
    except TypeError as error:
        raise ValueError(f"{where}: {error}") from None
    except ValueError as error:
        raise ValueError(f"{where}: {str(error).removeprefix(name + ': ')}") from None
    baseline = _side(obj.get("baseline"), f"{where} baseline", kind)
    canary = _side(obj.get("canary"), f"{where} canary", kind)
    for t, _ in _canary_points(canary) + list(canary.errors):
        if t <= deployed_at or (ends_at is not None and t > ends_at):
            raise ValueError(
                f"{where} canary: point at t={t:g} is outside the canary window "
                f"(after deployed_at{', up to ends_at' if ends_at else ''})"
            )
    return spec, baseline, canary


def _side(obj: Any, where: str, kind: str) -> Side:
    if not isinstance(obj, Mapping):
        raise ValueError(f"{where} must be an object")
    if kind != "errors":
        return Side(values=_points(obj, "values", where, counts=False))
    errors = _points(obj, "errors", where, counts=True)
    requests = _points(obj, "requests", where, counts=True)
    served = dict(requests)
    for t, n in errors:
        if t not in served:
            raise ValueError(f"{where}: errors at t={t:g} with no requests point at that time")
        if n > served[t]:
            raise ValueError(f"{where}: {n:g} errors > {served[t]:g} requests at t={t:g}")
    return Side(errors=errors, requests=requests)


def _points(obj: Mapping[str, Any], key: str, where: str, counts: bool) -> list[Point]:
    raw = obj.get(key)
    if not isinstance(raw, list):
        raise ValueError(f"{where}: {key} must be a list of [t, {'n' if counts else 'v'}]")
    points: list[Point] = []
    seen: set[float] = set()
    for i, item in enumerate(raw):
        spot = f"{where}.{key}[{i}]"
        if not isinstance(item, list | tuple) or len(item) != 2 or not _finite(item[0]):
            raise ValueError(f"{spot}: expected [t, {'n' if counts else 'v'}] with t in seconds")
        t, v = float(item[0]), item[1]
        if v is None and not counts:
            continue  # no value for that step (Prometheus NaN): a gap
        if not _finite(v) or (counts and v < 0):
            need = "count must be a number >= 0" if counts else "value must be a number or null"
            raise ValueError(f"{spot}: {need}")
        if counts:
            if t in seen:
                raise ValueError(f"{spot}: duplicate timestamp t={t:g}")
            seen.add(t)
        points.append((t, float(v)))
    return points
