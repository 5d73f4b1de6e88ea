"""`gate assess` as a whole process on a 10,000-commit history, cold and warm, beside `git log -1`.

The repository (the synthetic one of benchmarks/synthrepo.py, or `--repo`) is cloned bare, sharing
its objects; each round then runs, in turn: `git log -1` (the floor: one git process that reads the
repository), `gate assess` with its history index removed first (cold), `gate assess` again
(warm: the same change again), and, after one new commit is made, `gate assess` of that commit
(warm: one commit to add to the index, as after each commit a developer makes). Each run records
its assessment in a SQLite database, as `gate assess` does by default (`--no-record` times that
flag instead). Wall seconds from start to exit and CPU seconds of the process and its git
children (steadier than wall time on a shared machine); medians over the rounds.

    python -m benchmarks.assess_latency [--rounds 5] [--commits 10000] [--repo PATH]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.synthrepo import RepoSpec, cached, machine, wait_for_quiet

TARGET_SECONDS = 1.0
GATE = Path(sys.executable).with_name("gate")


def timed(command: Sequence[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of `command` and its children; it must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, env=env, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr.decode(errors='replace')}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.strip()


def new_commit(clone: Path, number: int, work: Path) -> None:
    """One more commit on the clone's branch (a new 40-line file), made with git's plumbing."""
    content = "".join(f"value_{number}_{line} = {line}\n" for line in range(40))
    blob = subprocess.run(
        ["git", "-C", str(clone), "hash-object", "-w", "--stdin"],
        input=content,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    env = {**os.environ, "GIT_INDEX_FILE": str(work / "bench-index")}
    git(clone, "read-tree", "HEAD", env=env)
    path = f"riskgate-bench/change_{number}.py"
    git(clone, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
    tree = git(clone, "write-tree", env=env)
    commit = git(clone, "commit-tree", tree, "-p", "HEAD", "-m", f"bench change {number}")
    git(clone, "update-ref", "HEAD", commit)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--commits", type=int, default=10_000, help="of the synthetic history")
    parser.add_argument(
        "--repo", type=Path, help="a repository of your own instead (cloned, never written to)"
    )
    parser.add_argument("--no-record", action="store_true", help="time `gate assess --no-record`")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=0.0,
        help="seconds to wait for the load average to drop below 1 first",
    )
    args = parser.parse_args(argv)

    source = args.repo.resolve() if args.repo else cached(RepoSpec(commits=args.commits)).path
    print(machine())
    if args.quiet_wait:
        print(wait_for_quiet(args.quiet_wait))
    work = Path(tempfile.mkdtemp(prefix="assess-latency-"))
    try:
        samples = measure(source, work, args.rounds, args.no_record)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("| command | wall s median | min | max | CPU s median |")
    print("|---|---|---|---|---|")
    for name, runs in samples.items():
        walls = [wall for wall, _ in runs]
        cpus = [cpu for _, cpu in runs]
        print(
            f"| {name} | {statistics.median(walls):.3f} | {min(walls):.3f} | {max(walls):.3f} "
            f"| {statistics.median(cpus):.3f} |"
        )
    for name in (SAME, NEXT):
        warm = statistics.median(wall for wall, _ in samples[name])
        verdict = "PASS" if warm < TARGET_SECONDS else "FAIL"
        print(f"{name}: median {warm:.3f} s, target under {TARGET_SECONDS:.0f} s: {verdict}")


FLOOR = "git log -1"
COLD = "gate assess, cold index"
SAME = "gate assess, warm index (same change again)"
NEXT = "gate assess, warm index (one new commit since)"


def measure(
    source: Path, work: Path, rounds: int, no_record: bool
) -> dict[str, list[tuple[float, float]]]:
    """Clone `source` (sharing its objects), then time each command once a round, in turn."""
    clone = work / "repo.git"
    subprocess.run(
        ["git", "clone", "--quiet", "--bare", "--shared", str(source), str(clone)], check=True
    )
    git(clone, "config", "user.name", "Bench")
    git(clone, "config", "user.email", "bench@example.com")
    commits = int(git(clone, "rev-list", "--count", "HEAD"))
    print(f"repository {source} ({commits:,} commits), cloned to {clone}; {rounds} rounds\n")
    env = {
        **os.environ,
        "GATE_DATABASE_URL": f"sqlite:///{work / 'riskgate.db'}",
        "GATE_LOG_JSON": "false",
    }
    assess = [str(GATE), "assess", "--repo", str(clone), "--json"]
    if no_record:
        assess.append("--no-record")
    stored = Path(git(clone, "rev-parse", "--path-format=absolute", "--git-common-dir"))
    stored /= "riskgate"
    timed(assess, env)  # migrates the database, builds the first index: not counted
    samples: dict[str, list[tuple[float, float]]] = {FLOOR: [], COLD: [], SAME: [], NEXT: []}
    for number in range(rounds):
        samples[FLOOR].append(timed(["git", "-C", str(clone), "log", "-1"], env))
        shutil.rmtree(stored, ignore_errors=True)
        samples[COLD].append(timed(assess, env))
        samples[SAME].append(timed(assess, env))
        new_commit(clone, number, work)
        samples[NEXT].append(timed(assess, env))
    return samples


if __name__ == "__main__":
    main()
