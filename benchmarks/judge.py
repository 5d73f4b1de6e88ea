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
    kayenta = (
        f"{KAYENTA_CONFIDENCE:.0%} interval on the shift, High when its lower end exceeds "
        f"{KAYENTA_TOLERANCE} x\n  |Hodges-Lehmann| and the mean ratio is >= "
        f"{KAYENTA_ALLOWED_INCREASE}"
    )
    static_rule = (
        f"over {STATIC_ERROR_RATIO:.0%} or its p99 over {STATIC_P99_FACTOR} x the usual p99"
    )

    return f"""{HEADING}

What it means: how often each judge rolls back a deploy that changed nothing, and how soon it
catches one that regressed, asked after every one-minute step of a 30-minute watch (an hour of
baseline; SLIs `http_errors` and `latency_p99`).
Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}.
`{command}`: {seconds:.0f} s, {workers} worker processes, {repetitions} scenarios per family.

- **riskgate**: the post-deploy watch's own judge (how it decides: the header comment of the
  judge module in `gate/deploys/`); ALPHA = {ALPHA} per deployment, all 30 looks, effect >= 20%.
- **Kayenta MW** (the peer): NetflixACAJudge's Mann-Whitney classifier on the per-minute
  values, {kayenta}; re-run at every look.
- **static (Argo)** / **static (Flagger)** (the floors): a minute fails when its error ratio is
  {static_rule}; Argo rolls back at the first such minute, Flagger at the {FLAGGER_THRESHOLD}th.

Families (`benchmarks/scenarios.py`; unless a family says otherwise 6,000-60,000 requests/min,
error ratio 0.1-0.5% wobbling 10% a minute, p99 150-400 ms with 8% noise, autocorrelation 0.3):

{families}

Cells: no change: share rolled back (one-sided 95% upper bound) and how riskgate's window ended;
regressions: detected in 30 min / in {DETECT_WITHIN_MIN} min / median minutes to the rollback, and
how riskgate's misses ended.

{table(rows)}

{checks}
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
