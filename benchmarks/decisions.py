"""Decisions on real histories: hold and review shares, and reasons and steps by kind of change.

Scores the newest first-parent commits of each repository with the bundled model and the
repository's own risk-gate.yml (or the defaults), exactly as `gate assess` does, and prints:

- per repository: the pass / review / hold shares beside the policy's target shares;
- per kind of change (docs only, tests only, lock or build files only, source with its tests,
  source only, mixed): how often each reason and each kind of step is given.

    python -m benchmarks.decisions /path/to/repo [...] [--commits 200]
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
from gate.policy.repo_config import repo_policy, repo_services
from gate.pulls.assess import AssessmentResult, assess_change
from gate.settings import load_settings

TARGET_HOLD, TARGET_REVIEW = 0.05, 0.15  # the shares issue #13 asks the defaults to give


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


def run(repo: Path, count: int) -> dict:
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
    verdicts: Counter[str] = Counter()
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    kinds: Counter[str] = Counter()
    failures = 0
    commits = first_parent_commits(repo, count)
    for done, sha in enumerate(commits, 1):
        try:
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
            )
        except Exception as error:  # a benchmark counts what breaks instead of stopping
            failures += 1
            print(f"  {sha[:10]}: {type(error).__name__}: {error}", file=sys.stderr)
            continue
        kind = change_kind(result)
        kinds[kind] += 1
        verdicts[result.decision.effective] += 1
        for reason in result.reasons:
            by_kind[kind][f"reason: {reason.feature}"] += 1
        for step in result.advice.steps:
            by_kind[kind][f"step: {step.kind}"] += 1
        if result.decision.effective == "hold" and not result.advice.steps:
            by_kind[kind]["held, told no step exists"] += 1
        if done % 50 == 0 or done == len(commits):
            print(f"  {done}/{len(commits)} commits", file=sys.stderr)
    return {"verdicts": verdicts, "by_kind": by_kind, "kinds": kinds, "failures": failures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repos", nargs="+", type=Path)
    parser.add_argument("--commits", type=int, default=200)
    args = parser.parse_args()
    print("| repository | commits | pass | review | hold | target review / hold | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    totals: dict[str, Counter[str]] = defaultdict(Counter)
    kinds: Counter[str] = Counter()
    for repo in args.repos:
        found = run(repo, args.commits)
        n = sum(found["verdicts"].values()) or 1
        shares = [found["verdicts"][v] / n for v in ("pass", "review", "hold")]
        print(
            f"| {repo.parent.name if repo.name == 'repo' else repo.name} | {n} | "
            + " | ".join(f"{share:.0%}" for share in shares)
            + f" | {TARGET_REVIEW:.0%} / {TARGET_HOLD:.0%} | {found['failures']} |",
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
