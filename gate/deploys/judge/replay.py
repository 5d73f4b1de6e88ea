"""Judge a scenario: one look as the live watch sees it (judge_step), or the whole window."""

# How it decides, in short (benchmarks/RESULTS.md, "Post-deploy judge", has the measurements):
#
# * The watch looks after every step, so each test's evidence is an e-process: under "no
#   regression" it is at most a nonnegative supermartingale starting at 1, so by Ville's
#   inequality it ever reaches 1/a with probability at most a, however many looks are taken and
#   whenever the watch stops. ALPHA is shared evenly by a deployment's metrics (Bonferroni).
# * The tests, each with its own notes: errors.py (counts), values.py (latency and gauges).
# * A significant change rolls back only when it is also material: relative effect >= min_effect
#   and absolute change >= min_abs, measured robustly (the median, and for latency the 90th
#   percentile, of the per-step values; the error ratio without a blip step).
# * healthy needs evidence too: no gaps and a 95% bound that rules out a material regression.
#   Otherwise the metric is inconclusive (low traffic, missing data): extend or ask a person.

from __future__ import annotations

from gate.deploys.judge.errors import judge_errors
from gate.deploys.judge.spec import ALPHA, Look, MetricSpec, Scenario, Side
from gate.deploys.judge.values import judge_values
from gate.deploys.judge.verdict import MetricVerdict, Verdict


def judge_step(scenario: Scenario, now: int, alpha: float = ALPHA) -> Verdict:
    """The call given only the data with t <= now, as the live watch sees it at that moment."""
    n = len(scenario.metrics)
    verdicts = [
        _judge_metric(
            spec,
            baseline,
            canary,
            Look(scenario.deployed_at, scenario.step_seconds, now, alpha / n, n),
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


def _judge_metric(spec: MetricSpec, baseline: Side, canary: Side, look: Look) -> MetricVerdict:
    """One metric's call at one look."""
    if spec.kind == "errors":
        return judge_errors(spec, baseline, canary, look)
    return judge_values(spec, baseline, canary, look)
