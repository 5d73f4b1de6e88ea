"""riskgate's post-deploy judge against Kayenta-style and static-threshold judges, look by look."""

# Run from the repository root: python -m benchmarks.judge [--repetitions 300] [--record]
# Every judge sees the same seeded scenarios (benchmarks/scenarios.py) and is asked after every
# one-minute step, as a live watch would; the first "fail" rolls back.

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import scipy
from scipy import special, stats

from benchmarks.scenarios import CANARY_STEPS, FAMILIES, STEP, Case, Family, cases
from gate.deploys.judge.replay import replay
from gate.deploys.judge.spec import ALPHA, Side

RESULTS = Path(__file__).with_name("RESULTS.md")
HEADING = "## Post-deploy judge: riskgate vs Kayenta vs static thresholds"
DETECT_WITHIN_MIN = 5
TARGET_FALSE_ROLLBACK = 0.01
TARGET_X2_WITHIN_5 = 0.95

# Kayenta's NetflixACAJudge defaults (kayenta-judge, MannWhitneyClassifier)
KAYENTA_CONFIDENCE = 0.98
KAYENTA_TOLERANCE = 0.25
KAYENTA_ALLOWED_INCREASE = 1.0  # effectSize.allowedIncrease, a mean ratio
# static rules, as Argo Rollouts / Flagger analyses are usually written
STATIC_ERROR_RATIO = 0.01  # fail a check when a minute's error ratio is above 1%
STATIC_P99_FACTOR = 1.5  # ... or its p99 above 1.5x the service's usual p99
FLAGGER_THRESHOLD = 5  # Flagger: roll back at the 5th failed check; Argo: failureLimit 0


@dataclass(frozen=True)
class Outcome:
    """One judge on one scenario: rolled back at which minute, or its final call."""

    rolled_back_at: int | None  # minutes after the deploy
    final: str  # "regressed", "healthy", "inconclusive" ("healthy" for judges without a middle)


Judge = Callable[[Case], Outcome]


# ---------------------------------------------------------------------------- the judges


def riskgate(case: Case) -> Outcome:
    verdict = replay(case.scenario)
    if verdict.verdict == "regressed":
        assert verdict.decided_at is not None
        return Outcome((verdict.decided_at - case.scenario.deployed_at) // STEP, "regressed")
    return Outcome(None, verdict.verdict)


def kayenta(case: Case) -> Outcome:
    """The Mann-Whitney classifier on each metric's per-minute values, re-run at every look."""
    scenario = case.scenario
    series = [(_per_step(base), _per_step(can)) for _, base, can in scenario.metrics]
    rng = np.random.default_rng(0)  # Kayenta jitters all-constant data; seeded here
    for minute in range(1, CANARY_STEPS + 1):
        now = scenario.deployed_at + minute * STEP
        for control, experiment in series:
            seen = experiment[experiment[:, 0] <= now, 1]
            if kayenta_high(control[:, 1], seen, rng):
                return Outcome(minute, "regressed")
    return Outcome(None, "healthy")


def _per_step(side: Side) -> np.ndarray:
    """(t, value) rows: the value itself, or a minute's error ratio (NaN -> 0, as Kayenta)."""
    if side.values:
        return np.array(side.values, dtype=float)
    errors = dict(side.errors)
    rows = [(t, errors.get(t, 0.0) / n if n > 0 else 0.0) for t, n in side.requests]
    return np.array(rows, dtype=float)


def kayenta_high(control: np.ndarray, experiment: np.ndarray, rng: np.random.Generator) -> bool:
    """Kayenta's MannWhitneyClassifier.classify(..., direction=Increase) == High."""
    if experiment.size == 0 or control.size == 0:
        return False  # Nodata
    if experiment.size == control.size and np.array_equal(np.sort(experiment), np.sort(control)):
        return False  # identical: Pass
    if np.unique(np.concatenate([experiment, control])).size == 1:
        return False
    if np.unique(experiment).size == 1 and np.unique(control).size == 1:
        # Kayenta adds Gaussian noise scaled to the value when both sides are constant
        experiment = experiment + rng.normal(0, abs(experiment[0]) * 1e-5, experiment.size)
        control = control + rng.normal(0, abs(control[0]) * 1e-5, control.size)
    interval = _mann_whitney_lower(experiment, control, KAYENTA_CONFIDENCE)
    if interval is None:
        return False  # all observations tied: MannWhitneyException -> Error, not High
    lower, estimate = interval
    mean_c, mean_e = float(np.mean(control)), float(np.mean(experiment))
    ratio = math.nan if mean_c == 0 or mean_e == 0 else mean_e / mean_c
    high = lower > KAYENTA_TOLERANCE * abs(estimate)
    return high and (math.isnan(ratio) or ratio >= KAYENTA_ALLOWED_INCREASE)


def _mann_whitney_lower(x: np.ndarray, y: np.ndarray, level: float) -> tuple[float, float] | None:
    """Lower end of Kayenta's confidence interval for the shift x - y, and its estimate.

    Kayenta (kayenta-mannwhitney, after R's wilcox.test) solves
    (dz(mu) - 0.5 sign(dz)) / sigma - z = 0 with Brent's method, where dz is the rank-sum
    statistic of x - mu against y minus its mean and sigma has the ties correction. dz only
    changes where mu equals a pairwise difference x_i - y_j, so the root Brent converges to is
    one of those differences: found here directly on the sorted differences.
    """
    m, n = x.size, y.size
    diffs = np.sort((x[:, None] - y[None, :]).ravel())
    ties = sum(float(c**3 - c) for side in (x, y) for c in np.unique(side, return_counts=True)[1])
    total = m + n
    sigma = math.sqrt(m * n / 12 * ((total + 1) - ties / (total * (total - 1))))
    if sigma == 0:
        return None
    z = float(stats.norm.ppf(1 - (1 - level) / 2))
    values, counts = np.unique(diffs, return_counts=True)
    above = m * n - np.cumsum(counts)  # differences above each distinct value
    dz = above - m * n / 2
    f = (dz - 0.5 * np.sign(dz)) / sigma - z  # just above each value; decreasing
    k = np.flatnonzero(f <= 0)
    lower = float(values[k[0]]) if k.size else float(values[-1])
    return lower, float(np.median(diffs))


def static(failures_to_roll_back: int) -> Judge:
    """Argo Rollouts / Flagger style: each minute checked against fixed limits."""

    def judge(case: Case) -> Outcome:
        errors_side, latency_side = case.scenario.metrics[0][2], case.scenario.metrics[1][2]
        ratios = _per_step(errors_side)[:, 1]
        p99s = _per_step(latency_side)[:, 1]
        limit = STATIC_P99_FACTOR * case.service.p99
        failed = 0
        for minute, (ratio, p99) in enumerate(zip(ratios, p99s, strict=True), start=1):
            failed += int(ratio > STATIC_ERROR_RATIO or p99 > limit)
            if failed >= failures_to_roll_back:
                return Outcome(minute, "regressed")
        return Outcome(None, "healthy")

    return judge


JUDGES: dict[str, Judge] = {
    "riskgate": riskgate,
    "Kayenta MW": kayenta,
    "static (Argo)": static(1),
    "static (Flagger)": static(FLAGGER_THRESHOLD),
}


# ---------------------------------------------------------------------------- running


@dataclass(frozen=True)
class Row:
    family: str
    regression: bool
    judge: str
    n: int
    rolled_back: int
    within_5: int
    median_minutes: float | None
    healthy: int
    inconclusive: int


def _run_chunk(args: tuple[int, int, int, int]) -> list[tuple[str, int, Outcome]]:
    family_index, start, stop, seed = args
    family = FAMILIES[family_index]
    chunk = cases(family, stop, seed, start)
    return [
        (name, i, judge(case)) for i, case in enumerate(chunk) for name, judge in JUDGES.items()
    ]


def run(repetitions: int, seed: int, workers: int) -> list[Row]:
    chunks = [
        (index, start, min(start + 50, repetitions), seed)
        for index in range(len(FAMILIES))
        for start in range(0, repetitions, 50)
    ]
    outcomes: dict[tuple[int, str], list[Outcome]] = {}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for chunk, result in zip(chunks, pool.map(_run_chunk, chunks), strict=True):
            for name, _, outcome in result:
                outcomes.setdefault((chunk[0], name), []).append(outcome)
    return [
        _row(family, name, outcomes[(index, name)])
        for index, family in enumerate(FAMILIES)
        for name in JUDGES
    ]


def _row(family: Family, judge: str, outcomes: Sequence[Outcome]) -> Row:
    times = [o.rolled_back_at for o in outcomes if o.rolled_back_at is not None]
    return Row(
        family=family.name,
        regression=family.regression,
        judge=judge,
        n=len(outcomes),
        rolled_back=len(times),
        within_5=sum(1 for t in times if t <= DETECT_WITHIN_MIN),
        median_minutes=statistics.median(times) if times else None,
        healthy=sum(1 for o in outcomes if o.final == "healthy"),
        inconclusive=sum(1 for o in outcomes if o.final == "inconclusive"),
    )


def upper_95(successes: int, n: int) -> float:
    """Clopper-Pearson one-sided 95% upper bound on a rate."""
    return 1.0 if successes >= n else float(special.betaincinv(successes + 1, n - successes, 0.95))


# ---------------------------------------------------------------------------- reporting


def table(rows: Sequence[Row]) -> str:
    judges = list(JUDGES)
    lines = [
        "| scenario family | " + " | ".join(judges) + " |",
        "|---|" + "---|" * len(judges),
    ]
    by_family: dict[str, dict[str, Row]] = {}
    for row in rows:
        by_family.setdefault(row.family, {})[row.judge] = row
    lines.append("| **no change: false rollbacks** (95% upper bound) |" + " |" * len(judges))
    for family in FAMILIES:
        if not family.regression:
            cells = [_null_cell(by_family[family.name][j]) for j in judges]
            lines.append(f"| {family.name} | " + " | ".join(cells) + " |")
    lines.append(
        "| **regressions: detected / within 5 min / median minutes** |" + " |" * len(judges)
    )
    for family in FAMILIES:
        if family.regression:
            cells = [_regression_cell(by_family[family.name][j]) for j in judges]
            lines.append(f"| {family.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _null_cell(row: Row) -> str:
    cell = f"{row.rolled_back / row.n:.1%} (<= {upper_95(row.rolled_back, row.n):.1%})"
    if row.judge == "riskgate":
        cell += f"; healthy {row.healthy / row.n:.0%}, inconclusive {row.inconclusive / row.n:.0%}"
    return cell


def _regression_cell(row: Row) -> str:
    median = "-" if row.median_minutes is None else f"{row.median_minutes:g}"
    cell = f"{row.rolled_back / row.n:.0%} / {row.within_5 / row.n:.0%} / {median}"
    if row.judge == "riskgate" and row.rolled_back < row.n:
        healthy, open_ = row.healthy / row.n, row.inconclusive / row.n
        cell += f"; missed: healthy {healthy:.0%}, inconclusive {open_:.0%}"
    return cell


def targets(rows: Sequence[Row]) -> list[tuple[str, bool, str]]:
    mine = {row.family: row for row in rows if row.judge == "riskgate"}
    nulls = [row for row in mine.values() if not row.regression]
    worst = max(nulls, key=lambda row: row.rolled_back / row.n)
    x2 = mine["errors x2"]
    zero = mine["errors from zero"]
    return [
        (
            f"false rollbacks <= {TARGET_FALSE_ROLLBACK:.0%} in every no-change family, "
            "looking every minute",
            all(row.rolled_back / row.n <= TARGET_FALSE_ROLLBACK for row in nulls),
            f"worst: {worst.family} {worst.rolled_back}/{worst.n}; all nulls together "
            f"{sum(r.rolled_back for r in nulls)}/{sum(r.n for r in nulls)}",
        ),
        (
            f"errors x2 detected within {DETECT_WITHIN_MIN} min in >= {TARGET_X2_WITHIN_5:.0%}",
            x2.within_5 / x2.n >= TARGET_X2_WITHIN_5,
            f"{x2.within_5}/{x2.n} = {x2.within_5 / x2.n:.1%}",
        ),
        (
            "errors from a zero baseline always detected",
            zero.rolled_back == zero.n,
            f"{zero.rolled_back}/{zero.n}",
        ),
    ]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}"
    )


def report(
    rows: Sequence[Row], command: str, seconds: float, repetitions: int, workers: int
) -> str:
    checks = "\n".join(
        f"- [{'pass' if ok else 'FAIL'}] {what}: {detail}" for what, ok, detail in targets(rows)
    )
    families = "\n".join(f"- **{family.name}**: {family.description}" for family in FAMILIES)
    cell = {(row.family, row.judge): row for row in rows}
    kayenta_nulls = [cell[(f.name, "Kayenta MW")] for f in FAMILIES if not f.regression]
    kayenta_low = min(row.rolled_back / row.n for row in kayenta_nulls)
    kayenta_high = max(row.rolled_back / row.n for row in kayenta_nulls)

    def share(family: str) -> str:
        row = cell[(family, "riskgate")]
        return f"{row.rolled_back / row.n:.0%}"

    def median(family: str, judge: str = "riskgate") -> str:
        value = cell[(family, judge)].median_minutes
        return "-" if value is None else f"{value:g}"

    kayenta_shift = median("latency +30%", "Kayenta MW")

    return f"""{HEADING}

Date: {datetime.now(UTC):%Y-%m-%d}. Machine: {machine()}.
Command: `{command}` ({seconds:.0f} s wall clock with {workers} worker processes;
{repetitions} scenarios per family, seeded: the same scenarios on every run).

Each scenario is one service with two SLIs, `http_errors` (errors and requests per minute) and
`latency_p99` (each minute's p99), an hour of baseline before the deploy and 30 one-minute steps
after it. Every judge is asked after every step and the first "fail" rolls back.

- **riskgate**: `gate.deploys.judge.replay.replay`,
  ALPHA = {ALPHA} for the whole deployment (both metrics,
  all 30 looks), minimum effect 20% (errors also +0.01 percentage points).
- **Kayenta MW**: NetflixACAJudge's Mann-Whitney classifier on the per-minute values (error
  ratio per minute; p99 per minute): {KAYENTA_CONFIDENCE:.0%} confidence interval on the shift,
  High when its lower end exceeds {KAYENTA_TOLERANCE} x |Hodges-Lehmann estimate| and the mean
  ratio is >= {KAYENTA_ALLOWED_INCREASE}; re-run at every look on all the canary data so far.
  The interval is computed on the sorted pairwise differences, which gives the root Kayenta's
  Brent search finds (checked against a port of its `wilcoxonDiff` on 400 random samples,
  ties included: identical).
- **static (Argo)**: a minute fails when its error ratio > {STATIC_ERROR_RATIO:.0%} or its p99 >
  {STATIC_P99_FACTOR} x the service's usual p99; roll back at the first failed minute
  (failureLimit 0).
- **static (Flagger)**: the same checks; roll back at the {FLAGGER_THRESHOLD}th failed check
  (`threshold: {FLAGGER_THRESHOLD}`).

Scenario families (`benchmarks/scenarios.py`; services 6,000-60,000 requests/min and error
ratio 0.1-0.5% log-uniform, p99 150-400 ms; the error rate wobbles 10% from minute to minute;
p99 noise 8% with lag-one autocorrelation 0.3; unless a family says otherwise):

{families}

Cells: for no-change families, the share of scenarios rolled back (with its one-sided 95%
upper bound), and for riskgate how the window ended; for regressions, the share detected
within the 30 minutes / within {DETECT_WITHIN_MIN} minutes of the deploy / the median minutes to
the rollback among those detected, and for riskgate how the misses ended.

{table(rows)}

Targets:

{checks}

How riskgate decides (`gate/deploys/judge/`), and why looking every minute is safe:

- Every test's evidence is an e-process: under "no regression" it is bounded by a nonnegative
  supermartingale that starts at 1, so by Ville's inequality the chance it *ever* reaches 1/a
  is at most a, however often it is looked at and whenever the watch stops. Kayenta re-runs a
  fixed-sample 98% test on the growing data, and each look is a new chance to fail
  ({kayenta_low:.0%}-{kayenta_high:.0%} of the no-change scenarios above). The deployment's
  ALPHA is split evenly between its metrics.
- Errors against the hour before the deploy: for a common error rate L, B(L) is an e-value from
  the baseline's counts that its rate is below L (a mixture of likelihood ratios, expectation
  exactly 1 at the true rate), and C(L) a Poisson mixture sequential probability ratio test of
  the canary's errors against rate L, over ratios 1.2x-1000x. The baseline is fixed before the
  first look and independent of the canary, so at the true rate B*C is a test supermartingale,
  and the infimum over L (computed exactly: both logs are convex in L) is below it. No alpha is
  spent on estimating the baseline rate, and a zero-error baseline cannot hide new errors:
  B grows like exp(L x requests) when the baseline saw none.
- Errors against a baseline beside the canary: each step's errors split between the two sides
  binomially given their total, whatever the common rate, so the product over steps of the
  mixture likelihood ratio is an exact test martingale.
- Counts that wobble more than Poisson count as 1/phi of an observation (phi: the baseline's
  per-minute dispersion). One minute that dwarfs the others (3x the next one's excess and 4
  standard deviations) is a blip: the evidence used is the minimum of the e-values with and
  without it (still valid), and once three calm minutes follow, the healthy bound leaves it out.
- Latency: a conformal test martingale. Each canary minute's distance from the running median
  is ranked against everything seen before it; under "same distribution" the ranks are
  independent uniform p-values, and a mixture of calibrators bets on small ones (power ones
  for a shift, step ones for a wider spread). Neighbouring minutes are alike, which
  exchangeability ignores, so the log evidence is scaled by (1 - rho)/(1 + rho), rho the
  baseline's lag-one autocorrelation (the effective sample size of an AR(1) series).
- A significant change rolls back only when it is material: +20% in the error ratio, or in the
  median or the 90th percentile of the per-minute p99 (a variance increase shows in the
  latter). A healthy call needs a 95% bound that rules a material change out, and no gaps;
  otherwise the call is inconclusive: extend the watch or ask a person.

What this costs, and where it stops:

- Latency evidence is rank-based and corrected for autocorrelation, so even a large shift
  needs several minutes (median {median("latency +30%")} min for +30%; each minute's
  p-value is at best 1/61 against a 60-minute baseline); Kayenta flags it in a median
  {kayenta_shift} min, at the price of the false rollbacks above. A variance x3 increase
  lifts the bad minutes' p99 by about 23%, just over the 20% bar, and is caught in
  {share("latency variance x3")} of the scenarios; x4 (+36%) in {share("latency variance x4")}.
  Healthy needs an 80% bound on the bad tail under the bar, so most of the rest end
  inconclusive rather than healthy.
- A gradual drift rolls back once the canary's median as a whole is 20% worse (median
  {median("gradual drift")} min into a ramp that reaches +20% at minute 10).
- The errors test is exact for Poisson counts; the 1/phi correction and the autocorrelation
  correction are approximations, checked here by the noisy no-change family.
- Against a baseline before the deploy, a daily ramp in the error ratio itself is
  indistinguishable from a regression once it passes the 20% bar; services with steep daily
  swings should use a baseline beside the canary (or the same hour a day earlier).
- When the canary's requests outnumber the baseline's about 5 to 1 the errors evidence stops
  growing: keep the baseline window at least as long as the watch.
"""


def record(text: str) -> None:
    """Put this section in RESULTS.md, replacing only its own earlier version."""
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    start = old.find(HEADING)
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        following = old.find("\n## ", start + len(HEADING))
        tail = old[following:] if following >= 0 else ""
        new = old[:start] + text + tail
    RESULTS.write_text(new.rstrip("\n") + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repetitions", type=int, default=300, help="scenarios per family")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--record", action="store_true", help=f"write the section in {RESULTS}")
    args = parser.parse_args(argv)
    started = time.monotonic()
    rows = run(args.repetitions, args.seed, args.workers)
    seconds = time.monotonic() - started
    command = "python -m benchmarks.judge " + " ".join(
        a for a in (sys.argv[1:] if argv is None else argv) if a != "--record"
    )
    text = report(rows, command.strip(), seconds, args.repetitions, args.workers)
    print(text)
    if args.record:
        record(text)
    return 0 if all(ok for _, ok, _ in targets(rows)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
