"""Mining real public histories: every commit of each repository given, then a random sample of
the rows checked against the installed `gate assess` on the same commit (features equal).

    python -m benchmarks.mine_real /work/.mirror/apache+zeppelin/repo ... [--sample 30]

Repositories are read where they are (bare mirrors are fine); the mined rows go to --out
(under /tmp by default), never into the working tree.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.synthrepo import cpu_seconds, machine
from gate.features.catalog import CATALOG
from gate.features.compute import compute_features
from gate.features.gitlog import iter_records
from gate.features.history import HistoryIndex, MessageRules
from gate.git.cmd import EMPTY_TREE
from gate.policy.repo_config import repo_services
from training.mine import ProgressLines, mine


@dataclass
class Mined:
    repo: str
    commits: int = 0
    unreadable_files: int = 0
    commits_with_unreadable: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    checked: int = 0
    equal: int = 0
    assess_failed: int = 0
    mismatched: dict[str, int] = field(default_factory=dict)  # feature -> rows it differed on
    mismatched_merges: int = 0  # of the rows that differed, how many were merge commits
    # the same rows against compute_features with the index of the whole branch, as the
    # service keeps it (gate assess indexes only the ancestors of --base)
    service_equal: int = 0
    service_mismatched: dict[str, int] = field(default_factory=dict)
    error: str = ""

    @property
    def rate(self) -> float:
        return self.commits / self.seconds if self.seconds else math.nan


def _same(mined: Any, served: Any) -> bool:
    if mined is None or served is None or _nan(mined) or _nan(served):
        return (mined is None or _nan(mined)) and (served is None or _nan(served))
    return math.isclose(float(mined), float(served), rel_tol=1e-9, abs_tol=1e-9)


def _nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _parents(repo: Path, sha: str) -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(repo), "rev-list", "--parents", "-n", "1", sha],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()[1:]


def assess(gate: str, repo: Path, sha: str, parents: list[str]) -> dict[str, Any]:
    """`gate assess --json --no-record` of one commit against its first parent."""
    base = ["--base", parents[0]] if parents else []  # a root: gate assesses it against nothing
    done = subprocess.run(
        [gate, "assess", *base, "--head", sha, "--json", "--no-record", "--repo", str(repo)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr else "failed")
    return json.loads(done.stdout)


def run(repo: Path, args: argparse.Namespace) -> Mined:
    result = Mined(str(repo))
    name = repo.parent.name if repo.name == "repo" else repo.name
    services = repo_services(repo, "HEAD")[0]  # as `gate train --repo` mines
    started, cpu = time.perf_counter(), cpu_seconds()
    rows: list[dict[str, Any]] = []
    progress = ProgressLines(every=args.progress_every, label=name)
    try:
        for row in mine(repo, services=services, progress=progress):
            rows.append(row)
    except Exception as error:  # the benchmark's point: report any crash, then go on
        result.error = f"{type(error).__name__}: {error}"
    result.seconds = time.perf_counter() - started
    result.cpu = cpu_seconds() - cpu
    result.commits = len(rows)
    result.unreadable_files = sum(row["unreadable_files"] for row in rows)
    result.commits_with_unreadable = sum(row["unreadable_files"] > 0 for row in rows)
    if rows:
        args.out.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows).to_parquet(args.out / f"{name}.parquet", index=False)
    sample = random.Random(args.seed).sample(rows, min(args.sample, len(rows)))
    differing: Counter[str] = Counter()
    index = HistoryIndex()
    for record in iter_records(repo, ["HEAD"], MessageRules()):
        index.add(record)
    service_differing: Counter[str] = Counter()
    for number, row in enumerate(sample, start=1):
        parents = _parents(repo, row["sha"])
        base = parents[0] if parents else EMPTY_TREE
        view = compute_features(repo, base, row["sha"], index=index, services=services)
        wrong = [f for f in CATALOG if not _same(row.get(f), view.vector.values.get(f))]
        service_differing.update(wrong)
        result.service_equal += not wrong
        try:
            served = assess(args.gate, repo, row["sha"], parents)["features"]
        except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as error:
            result.assess_failed += 1
            print(f"{name}: gate assess {row['sha'][:10]} failed: {error}", file=sys.stderr)
            continue
        result.checked += 1
        wrong = [f for f in CATALOG if f in served and not _same(row.get(f), served[f])]
        if wrong:
            differing.update(wrong)
            result.mismatched_merges += len(parents) > 1
            shown = ", ".join(f"{f} {row.get(f)} vs {served[f]}" for f in wrong[:6])
            print(f"{name}: {row['sha'][:10]} differs: {shown}", file=sys.stderr)
        else:
            result.equal += 1
        print(f"{name}: checked {number} of {len(sample)} against gate assess", file=sys.stderr)
    result.mismatched = dict(differing.most_common())
    result.service_mismatched = dict(service_differing.most_common())
    return result


def table(results: list[Mined]) -> str:
    head = (
        "| repository | commits mined | unreadable files (commits) | wall s | CPU s | commits/s "
        "| sample checked | equal to `gate assess` | differing features | equal to the service's "
        "view | crash |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|\n"
    )
    lines = [
        f"| {Path(r.repo).parent.name} | {r.commits:,} | {r.unreadable_files} "
        f"({r.commits_with_unreadable}) | {r.seconds:.0f} | {r.cpu:.0f} | {r.rate:.0f} "
        f"| {r.checked} (+{r.assess_failed} failed) | {r.equal} "
        f"| {', '.join(f'{k} {v}' for k, v in r.mismatched.items()) or '-'} "
        f"| {r.service_equal} | {r.error or 'none'} |"
        for r in results
    ]
    return head + "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repos", type=Path, nargs="+", help="git directories (bare is fine)")
    parser.add_argument("--sample", type=int, default=30, help="rows per repository to check")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--gate", default=shutil.which("gate") or "gate", help="console script")
    parser.add_argument("--out", type=Path, default=Path("/tmp/riskgate-mine-real"))
    parser.add_argument("--progress-every", type=float, default=15.0, help="seconds")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    print(f"machine: {machine()}", flush=True)
    results = []
    for repo in args.repos:
        results.append(run(repo, args))
        print(table(results[-1:]), flush=True)
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) | {"rate": r.rate} for r in results], indent=1))


if __name__ == "__main__":
    main()
