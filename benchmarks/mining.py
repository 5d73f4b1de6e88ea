"""Mining throughput and memory: training.mine.mine beside PyDriller and the raw git log floor."""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.synthrepo import (
    RepoSpec,
    SynthRepo,
    cached,
    cpu_seconds,
    machine,
    wait_for_quiet,
)
from gate.features.diff import change_entropy, subsystem
from gate.features.history import DEFAULT_FIX_PATTERN, HISTORY_FEATURES, HistoryIndex
from training.mine import GIT_PROCESSES, mine

TARGET_SECONDS = 60.0
TARGET_SPEEDUP = 10.0
PYDRILLER_LIMIT_S = 600.0  # past this projected time PyDriller runs on a prefix, extrapolated
DAY = 86_400


@dataclass
class Timed:
    what: str
    commits: int
    seconds: float
    cpu: float
    note: str = ""

    @property
    def rate(self) -> float:
        return self.commits / self.seconds if self.seconds else math.nan


def first_parent_shas(repo: Path, rev: str = "master") -> list[str]:
    """master's commits, oldest first."""
    out = subprocess.run(
        ["git", "-C", str(repo), "rev-list", "--first-parent", "--reverse", rev],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()


def git_floor(repo: Path, what: str, args: list[str], commits: int) -> Timed:
    """The time git alone takes to produce a log, read through a pipe as a consumer would."""
    started, cpu = time.perf_counter(), cpu_seconds()
    with subprocess.Popen(["git", "-C", str(repo), *args], stdout=subprocess.PIPE) as process:
        assert process.stdout is not None
        size = 0
        while chunk := process.stdout.read(1 << 20):
            size += len(chunk)
    seconds = time.perf_counter() - started
    return Timed(what, commits, seconds, cpu_seconds() - cpu, f"{size / 1e6:.0f} MB of output")


def time_mine(repo: Path, rev: str, commits: int, what: str) -> tuple[Timed, dict[str, Any]]:
    """mine() over `rev`'s history, rows consumed as a stream; the index phase timed apart."""
    switched: list[float] = []

    def progress(stage: str, _done: int, _total: int) -> None:
        if stage == "features" and not switched:
            switched.append(time.perf_counter())

    started, cpu = time.perf_counter(), cpu_seconds()
    rows = 0
    sample: dict[str, Any] = {}
    for row in mine(repo, [rev], progress=progress):
        rows += 1
        if len(sample) < 3000:  # the oldest commits, to check PyDriller's figures against
            sample[row["sha"]] = row
    seconds = time.perf_counter() - started
    if rows != commits:
        raise AssertionError(f"mine() yielded {rows} rows for {commits} commits")
    first_row = (switched[0] - started) if switched else seconds
    note = (
        f"history index, then the first row: {first_row:.1f} s; rows (git log -p in "
        f"{GIT_PROCESSES} processes + features): {seconds - first_row:.1f} s"
    )
    return Timed(what, rows, seconds, cpu_seconds() - cpu, note), sample


# PyDriller, used the way its users compute Kamei's metrics -------------------------------------


@dataclass
class _FileHistory:
    authors: set[str] = field(default_factory=set)
    changes: int = 0
    last: float = 0.0


def pydriller_rows(repo: Path, fix_pattern: str = DEFAULT_FIX_PATTERN) -> Iterator[dict[str, Any]]:
    """Kamei's change metrics of every commit, oldest first, from PyDriller's commit objects."""
    from pydriller import Repository

    fix = re.compile(fix_pattern)
    files: dict[str, _FileHistory] = {}
    touches: dict[str, list[tuple[float, str]]] = {}  # author -> (time, path) of earlier changes
    for commit in Repository(str(repo), only_in_branch="master").traverse_commits():
        now = commit.committer_date.timestamp()
        author = commit.author.email.lower()
        modified = commit.modified_files
        churn = [m.added_lines + m.deleted_lines for m in modified]
        paths = [m.new_path or m.old_path or "" for m in modified]
        before = [m.old_path or m.new_path or "" for m in modified]
        lt = sum(
            len(m.source_code_before.splitlines()) if m.source_code_before else 0 for m in modified
        )
        known = [files[path] for path in before if path in files]
        earlier = touches.setdefault(author, [])
        subsystems = {subsystem(path) for path in paths}
        ages = [(now - history.last) / DAY for history in known]
        row = {
            "sha": commit.hash,
            "la": float(sum(m.added_lines for m in modified)),
            "ld": float(sum(m.deleted_lines for m in modified)),
            "nf": float(len(modified)),
            "nd": float(len({os.path.dirname(path) or "." for path in paths})),
            "ns": float(len(subsystems)),
            "entropy": change_entropy(churn),
            "lt": float(lt),
            "fix": float(bool(fix.search(commit.msg))),
            "ndev": float(len(set().union(*(h.authors for h in known)) | {author})),
            "age": sum(ages) / len(ages) if ages else 0.0,
            "nuc": float(sum(h.changes for h in known) + len(modified)),
            "exp": float(len(earlier) + len(modified)),
            "rexp": sum(1.0 / (1.0 + (now - t) / DAY) for t, _ in earlier) + len(modified),
            "sexp": float(sum(1 for _, path in earlier if subsystem(path) in subsystems)),
        }
        for old, new in zip(before, paths, strict=True):
            history = files.pop(old, None) or _FileHistory()
            history.authors.add(author)
            history.changes += 1
            history.last = now
            files[new] = history
            earlier.append((now, new))
        yield row


def time_pydriller(
    repo: Path, commits: int, at_least: int, limit_s: float
) -> tuple[Timed, dict[str, dict[str, Any]]]:
    """All commits, or a prefix extrapolated linearly when the whole would pass `limit_s`."""
    started, cpu = time.perf_counter(), cpu_seconds()
    rows: dict[str, dict[str, Any]] = {}
    done = 0
    note = ""
    for row in pydriller_rows(repo):
        done += 1
        if len(rows) < 3000:
            rows[row["sha"]] = row
        if done == at_least and done < commits:
            elapsed = time.perf_counter() - started
            projected = elapsed / done * commits
            if projected > limit_s:
                note = (
                    f"first {done:,} commits in {elapsed:.1f} s, extrapolated linearly to "
                    f"{commits:,} commits (a full run would take about {projected:.0f} s)"
                )
                break
    seconds = time.perf_counter() - started
    spent = cpu_seconds() - cpu
    if done < commits:
        scale = commits / done
        return Timed(
            "PyDriller (extrapolated)", commits, seconds * scale, spent * scale, note
        ), rows
    return Timed("PyDriller", done, seconds, spent, "every commit"), rows


COMPARED = ("la", "ld", "nf", "nd", "ns", "entropy", "lt", "fix", "ndev", "nuc", "exp", "sexp")


def agreement(ours: dict[str, dict[str, Any]], theirs: dict[str, dict[str, Any]]) -> str:
    """How many commits PyDriller and mine() agree on, feature by feature (same definitions)."""
    common = [sha for sha in theirs if sha in ours]
    if not common:
        return "no commit in both samples"
    parts = []
    for name in COMPARED:
        same = sum(
            math.isclose(ours[sha][name] or 0.0, theirs[sha][name], rel_tol=1e-6, abs_tol=1e-9)
            for sha in common
        )
        parts.append(f"{name} {100 * same / len(common):.0f}%")
    return f"{len(common):,} commits: " + ", ".join(parts)


def throughput(args: argparse.Namespace) -> dict[str, Any]:
    spec = RepoSpec(commits=args.commits, seed=args.seed)
    print(f"machine: {machine()}")
    repo = cached(spec, fresh=args.fresh)
    shas = first_parent_shas(repo.path)
    commits = len(shas)
    print(
        f"repository: {repo.path} ({commits:,} commits, {spec.authors} authors, "
        f"{repo.stats.get('files_at_tip', 0):.0f} files at the tip, {spec.years:g} years)\n"
    )
    print(wait_for_quiet(args.quiet_wait))
    log = ["log", "-M", "--diff-merges=first-parent", "master"]
    results = [
        git_floor(repo.path, "git log --numstat (floor)", ["log", "--numstat", "master"], commits),
        git_floor(repo.path, "git log -M --numstat", [*log, "--numstat"], commits),
        git_floor(repo.path, "git log -M -p (what mine() reads)", [*log, "-p"], commits),
    ]
    mined, ours = time_mine(repo.path, "master", commits, "training.mine.mine")
    results.append(mined)
    prefix = min(args.pydriller_commits, commits)
    theirs: dict[str, dict[str, Any]] = {}
    pydriller: Timed | None = None
    try:
        import pydriller as _  # noqa: F401
    except ImportError:
        print("PyDriller is not installed (pip install pydriller): its side is skipped\n")
    else:
        pydriller, theirs = time_pydriller(repo.path, commits, prefix, args.pydriller_limit)
        results.append(pydriller)
        if pydriller.note.startswith("first"):
            short, _sample = time_mine(
                repo.path, shas[prefix - 1], prefix, f"training.mine.mine, first {prefix:,}"
            )
            results.append(short)

    print(f"  {'what':<40} {'commits':>8} {'wall s':>8} {'cpu s':>8} {'commits/s':>10}  note")
    for timed in results:
        print(
            f"  {timed.what:<40} {timed.commits:>8,} {timed.seconds:8.1f} {timed.cpu:8.1f} "
            f"{timed.rate:10.0f}  {timed.note}"
        )
    floor = results[0]
    print(f"\nmine() takes {mined.seconds / floor.seconds:.1f}x the git log --numstat floor")
    verdicts = [f"mine() under {TARGET_SECONDS:.0f} s: {mined.seconds:.1f} s -> "]
    verdicts[0] += "PASS" if mined.seconds < TARGET_SECONDS else "FAIL"
    speedup = pydriller.seconds / mined.seconds if pydriller else math.nan
    if pydriller:
        verdict = "PASS" if speedup >= TARGET_SPEEDUP else "FAIL"
        verdicts.append(f"at least {TARGET_SPEEDUP:.0f}x PyDriller: {speedup:.1f}x -> {verdict}")
        print(f"PyDriller vs mine() on the same commits: {agreement(ours, theirs)}")
    for verdict in verdicts:
        print(f"target: {verdict}")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "repository": {"spec": spec.__dict__, "stats": repo.stats},
        "results": [timed.__dict__ | {"rate": timed.rate} for timed in results],
        "speedup": speedup,
    }


# memory ----------------------------------------------------------------------------------------


def _status_kb(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


def child(repo: Path, rev: str, stub_history: bool = False) -> None:
    """Mine `rev`'s history in this process, rows as a stream; print one JSON line of figures.

    stub_history replaces HistoryIndex.features by a constant: the index is built all the same,
    so memory is measured without the time the history features take.
    """
    import resource

    if stub_history:
        missing = dict.fromkeys(HISTORY_FEATURES)
        HistoryIndex.features = lambda *_args, **_kwargs: dict(missing)  # type: ignore[method-assign]

    index_rss: list[int] = []

    def progress(stage: str, _done: int, _total: int) -> None:
        if stage == "features" and not index_rss:
            index_rss.append(_status_kb("VmRSS"))

    baseline = _status_kb("VmRSS")
    started, rows = time.perf_counter(), 0
    for _row in mine(repo, [rev], progress=progress):
        rows += 1
    seconds = time.perf_counter() - started
    git_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    figures = {
        "rows": rows,
        "seconds": seconds,
        "baseline_mb": baseline / 1024,
        "after_index_mb": (index_rss[0] if index_rss else 0) / 1024,
        "peak_mb": _status_kb("VmHWM") / 1024,
        "git_peak_mb": git_kb / 1024,
    }
    print(json.dumps(figures))


def memory(args: argparse.Namespace) -> dict[str, Any]:
    spec = RepoSpec(
        commits=args.memory_commits,
        authors=args.memory_authors,
        years=args.memory_years,
        max_files=args.memory_files,
        prs=0,
        seed=args.seed,
    )
    print(f"machine: {machine()}")
    if args.stub_history:
        print("history features STUBBED (memory of the index and the stream only; rows/s not real)")
    started = time.perf_counter()
    repo: SynthRepo = cached(spec, fresh=args.fresh)
    print(
        f"repository: {repo.path} ({spec.commits:,} commits, {spec.authors} authors, up to "
        f"{spec.max_files} files, {spec.years:g} years; ready in "
        f"{time.perf_counter() - started:.0f} s, generated in {repo.build_seconds:.0f} s)"
    )
    shas = first_parent_shas(repo.path)
    print(wait_for_quiet(args.quiet_wait))
    sizes = sorted({min(size, len(shas)) for size in args.sizes})
    print(
        f"\n  {'commits':>8} {'wall s':>8} {'rows/s':>8} {'base MB':>8} {'after index MB':>14} "
        f"{'peak RSS MB':>12} {'git peak MB':>12}"
    )
    measured: list[dict[str, Any]] = []
    budget_end = time.perf_counter() + args.memory_budget
    for size in sizes:
        if measured:
            last = measured[-1]
            projected = last["seconds"] * size / last["rows"] * 1.2
            if time.perf_counter() + projected > budget_end:
                print(f"  {size:>8,} skipped: projected {projected:.0f} s passes the time budget")
                continue
        stub = ["--stub-history"] if args.stub_history else []
        command = [sys.executable, "-m", "benchmarks.mining", *stub, "--child", str(repo.path)]
        done = subprocess.run(
            [*command, shas[size - 1]],
            capture_output=True,
            text=True,
            timeout=max(60.0, budget_end - time.perf_counter()),
            check=True,
        )
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        measured.append(figures)
        print(
            f"  {figures['rows']:>8,} {figures['seconds']:8.1f} "
            f"{figures['rows'] / figures['seconds']:8.0f} {figures['baseline_mb']:8.0f} "
            f"{figures['after_index_mb']:14.0f} {figures['peak_mb']:12.0f} "
            f"{figures['git_peak_mb']:12.0f}",
            flush=True,
        )
    if len(measured) >= 2:
        first, last = measured[0], measured[-1]
        slope = (last["peak_mb"] - first["peak_mb"]) / (last["rows"] - first["rows"]) * 10_000
        print(f"\npeak RSS grows by {slope:.0f} MB per 10,000 commits of history")
    print(
        "git's peak RSS is almost all the packfile it maps (file-backed page cache, reclaimable);"
        " its anonymous memory stays a few MB"
    )
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "repository": {"spec": spec.__dict__, "stats": repo.stats, "seconds": repo.build_seconds},
        "measured": measured,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commits", type=int, default=10_000, help="history for throughput")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fresh", action="store_true", help="regenerate the repositories")
    parser.add_argument(
        "--pydriller-commits",
        type=int,
        default=1_000,
        help="PyDriller's prefix: when all commits would take over --pydriller-limit seconds, "
        "it stops here and its time is extrapolated",
    )
    parser.add_argument("--pydriller-limit", type=float, default=PYDRILLER_LIMIT_S)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--memory", action="store_true", help="also measure peak RSS")
    parser.add_argument("--memory-commits", type=int, default=100_000)
    parser.add_argument("--memory-authors", type=int, default=150)
    parser.add_argument("--memory-files", type=int, default=1_500)
    parser.add_argument("--memory-years", type=float, default=10.0)
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[10_000, 25_000, 50_000, 100_000],
        help="history lengths (prefixes of master) to mine in a fresh process each",
    )
    parser.add_argument(
        "--memory-budget", type=float, default=1500.0, help="seconds for all memory runs"
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=0.0,
        help="wait up to this many seconds for the machine's load to drop before measuring",
    )
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument(
        "--stub-history",
        action="store_true",
        help="memory runs only: history features replaced by a constant (the same index is "
        "built), to measure memory without their time",
    )
    parser.add_argument("--child", nargs=2, metavar=("REPO", "REV"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), args.child[1], args.stub_history)
        return
    result: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, "-m", "benchmarks.mining", *sys.argv[1:]])
    }
    if not args.skip_throughput:
        result["throughput"] = throughput(args)
    if args.memory:
        print()
        result["memory"] = memory(args)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
