"""Decisions on real histories: hold and review shares, and reasons and steps by kind of change.

Scores the newest first-parent commits of each repository with the bundled model and the
repository's own risk-gate.yml (or the defaults), exactly as `gate assess` does, and prints:

- per repository: the pass / review / hold shares beside the policy's target shares, with the
  thresholds calibrated out of time: on the repository's changes before the measured ones (its
  90 days before the oldest measured commit, or its 200 changes before it), as the service
  calibrates on the changes before a pull request; and, for comparison, the shares the model's
  own thresholds give;
- per kind of change (docs only, tests only, lock or build files only, source with its tests,
  source only, mixed): how often each reason and each kind of step is given.

    python -m benchmarks.decisions /path/to/repo [...] [--commits 200] [--calibrate-once]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from gate.features.gitlog import iter_records
from gate.features.history import HistoryIndex, MessageRules
from gate.features.kinds import file_kind
from gate.git.cmd import git
from gate.model.artifact import load_model
from gate.policy.decide import VERDICT_FOR_LEVEL
from gate.policy.repo_config import repo_policy, repo_services
from gate.pulls.assess import AssessmentResult, assess_change
from gate.pulls.calibration import calibrate, commit_time, stale
from gate.settings import load_settings

TARGET_HOLD, TARGET_REVIEW = 0.05, 0.15  # the default policy's shares (thresholds.hold_share...)


def change_kind(result: AssessmentResult) -> str:
    kinds = {file_kind(path) for path in result.paths}
    if not kinds:
        return "empty"
    if kinds <= {"docs"}:
        return "docs only"
    if kinds <= {"test"}:
        return "tests only"
    if kinds <= {"build", "config", "generated"}:
        return "build, config or generated only"
    if "source" in kinds and kinds <= {"source", "test", "docs"}:
        return "source with tests or docs" if kinds != {"source"} else "source only"
    return "mixed"


def first_parent_commits(repo: Path, count: int) -> list[str]:
    listing = git(repo, "rev-list", "--first-parent", "--no-merges", f"-{count}", "HEAD")
    return listing.decode().split()


def run(repo: Path, count: int, once: bool = False) -> dict:
    model = load_model(load_settings().model_path)
    rules = MessageRules()
    started = time.monotonic()
    index = HistoryIndex()
    for record in iter_records(repo, ["HEAD"], rules):
        index.add(record)
    print(
        f"{repo}: history index of {len(index):,} commits in {time.monotonic() - started:.0f} s",
        file=sys.stderr,
    )
    commits = first_parent_commits(repo, count)
    scored: dict[str, float] = {}
    distribution = None
    calibrations = 0
    verdicts: Counter[str] = Counter()
    by_thresholds: Counter[str] = Counter()
    model_verdicts: Counter[str] = Counter()
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    kinds: Counter[str] = Counter()
    failures = 0
    for done, sha in enumerate(reversed(commits), 1):  # oldest first, as they arrived
        try:
            # out of time: calibrated on the changes before this one, again every few new
            # changes, as the service calibrates on install and on push
            before = f"{sha}^"
            if distribution is None or (
                not once and stale(distribution, repo, before, model.version)
            ):
                distribution = calibrate(
                    repo,
                    before,
                    model,
                    index=index,
                    now=commit_time(repo, before),
                    rules=rules,
                    scored=scored,
                )
                calibrations += 1
            services, notes = repo_services(repo, f"{sha}^")
            policy, policy_notes = repo_policy(repo, f"{sha}^")
            result = assess_change(
                repo,
                f"{sha}^",
                sha,
                model,
                index=index,
                services=services,
                rules=rules,
                notes=notes + policy_notes,
                policy=policy,
                distribution=distribution,
            )
        except Exception as error:  # a benchmark counts what breaks instead of stopping
            failures += 1
            print(f"  {sha[:10]}: {type(error).__name__}: {error}", file=sys.stderr)
            continue
        kind = change_kind(result)
        kinds[kind] += 1
        verdicts[result.decision.effective] += 1
        by_thresholds[VERDICT_FOR_LEVEL[result.decision.level]] += 1
        model_verdicts[VERDICT_FOR_LEVEL[result.score.level]] += 1
        for reason in result.reasons:
            by_kind[kind][f"reason: {reason.feature}"] += 1
        for step in result.advice.steps:
            by_kind[kind][f"step: {step.kind}"] += 1
        if result.decision.effective == "hold" and not result.advice.steps:
            by_kind[kind]["held, told no step exists"] += 1
        if done % 50 == 0 or done == len(commits):
            print(f"  {done}/{len(commits)} commits", file=sys.stderr)
    return {
        "verdicts": verdicts,
        "model_verdicts": model_verdicts,
        "by_thresholds": by_thresholds,
        "calibrated_on": (
            f"{distribution.described()} ({calibrations} calibrations)" if distribution else "-"
        ),
        "by_kind": by_kind,
        "kinds": kinds,
        "failures": failures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repos", nargs="+", type=Path)
    parser.add_argument("--commits", type=int, default=200)
    parser.add_argument(
        "--calibrate-once",
        action="store_true",
        help="calibrate once, before the oldest measured commit, instead of as they arrive",
    )
    args = parser.parse_args()
    print(
        "| repository | commits | calibrated on (last) | by thresholds: review / hold "
        "| off target (review, hold) | decided: pass / review / hold "
        "| model thresholds: review / hold | errors |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    totals: dict[str, Counter[str]] = defaultdict(Counter)
    kinds: Counter[str] = Counter()
    for repo in args.repos:
        found = run(repo, args.commits, args.calibrate_once)
        n = sum(found["verdicts"].values()) or 1

        def shares(counts: Counter[str], verdicts: tuple[str, ...], n: int = n) -> list[float]:
            return [counts[verdict] / n for verdict in verdicts]

        review, hold = shares(found["by_thresholds"], ("review", "hold"))
        decided = shares(found["verdicts"], ("pass", "review", "hold"))
        model = shares(found["model_verdicts"], ("review", "hold"))
        print(
            f"| {repo.parent.name if repo.name == 'repo' else repo.name} | {n} | "
            f"{found['calibrated_on']} | {review:.1%} / {hold:.1%} | "
            f"{(review - TARGET_REVIEW) * 100:+.1f}, {(hold - TARGET_HOLD) * 100:+.1f} points | "
            + " / ".join(f"{share:.1%}" for share in decided)
            + f" | {model[0]:.1%} / {model[1]:.1%} | {found['failures']} |",
            flush=True,
        )
        kinds.update(found["kinds"])
        for kind, counts in found["by_kind"].items():
            totals[kind].update(counts)
    print("\n| kind of change | changes | most given reasons and steps (count) |")
    print("|---|---:|---|")
    for kind, count in kinds.most_common():
        given = ", ".join(f"{name} ({n})" for name, n in totals[kind].most_common(6)) or "none"
        print(f"| {kind} | {count} | {given} |")


if __name__ == "__main__":
    main()
