"""Mine a repository: the feature vector of every commit, exactly as the service computes it."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from gate.features.assemble import Services, assemble
from gate.features.blobs import BlobReader, CarriedLineCounts, paths_with_diff_attributes
from gate.features.catalog import CATALOG
from gate.features.gitlog import commit_order, iter_commits_in_order, iter_records
from gate.features.history import HistoryIndex, MessageRules, change_of

Progress = Callable[[str, int, int], None]  # (stage, commits done, commits in all)
GIT_PROCESSES = 2  # diffing commits is most of the work: two git processes share it


def _no_progress(_stage: str, _done: int, _total: int) -> None:
    pass


class ProgressLines:
    """A Progress that writes a line every `every` seconds and at each stage's end:
    `features: 1,234 of 15,000 commits, 812/s, 0:00:14 left` (for logs, where a bar cannot go)."""

    def __init__(self, out: IO[str] | None = None, every: float = 10.0, label: str = "") -> None:
        self.out = out or sys.stderr
        self.every = every
        self.label = f"{label}: " if label else ""
        self._started: dict[str, float] = {}
        self._last = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        started = self._started.setdefault(stage, now)
        if now - self._last < self.every and done != total:
            return
        self._last = now
        rate = done / (now - started) if now > started else 0.0
        left = _clock((total - done) / rate) if rate else "?"
        self.out.write(
            f"{self.label}{stage}: {done:,} of {total:,} commits, {rate:,.0f}/s, {left} left\n"
        )
        self.out.flush()


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def mine(
    repo: Path,
    revisions: list[str] | None = None,
    rules: MessageRules | None = None,
    services: Services | None = None,
    progress: Progress = _no_progress,
) -> Iterator[dict[str, Any]]:
    """Rows {sha, time, author, unreadable_files, <every feature>}, parents before children
    (oldest first where clocks agree), each from the history before the commit's own time.
    `unreadable_files`: changed files whose objects git lacks (their lines are not counted).

    The history index of every commit comes first, as the service's index holds the whole
    branch; then `git log -p` streams the commits, each row computed as it arrives.
    """
    rules = rules or MessageRules()
    services = services or Services()
    revisions = revisions or ["HEAD"]
    # the diffs start first: git works on them while the index is built
    order = commit_order(repo, revisions)
    commits = iter_commits_in_order(repo, order, GIT_PROCESSES)
    index, paths = _index(repo, revisions, rules, lambda done: progress("index", done, len(order)))
    attributed = paths_with_diff_attributes(repo, paths)
    with BlobReader(repo) as reader:
        line_counts = CarriedLineCounts(reader, attributed)
        for count, logged in enumerate(commits, start=1):
            change = change_of(logged.time, logged.author, logged.message, logged.changes)
            vector = assemble(
                logged.changes,
                lines_before=line_counts.lines_before(logged.parent, logged.changes, logged.blobs),
                change=change,
                index=index,
                rules=rules,
                services=services,
                notes=logged.notes,
            )
            progress("features", count, len(order))
            yield {
                "sha": logged.sha,
                "time": logged.time,
                "author": logged.author,
                "unreadable_files": logged.unreadable,
                **{name: vector.values.get(name) for name in CATALOG},
            }


def _index(
    repo: Path, revisions: list[str], rules: MessageRules, progress: Callable[[int], None]
) -> tuple[HistoryIndex, set[str]]:
    """The history index of `revisions`, and every path their commits changed."""
    index = HistoryIndex()  # takes records in any order: newest first, as git log gives them
    paths: set[str] = set()
    for count, record in enumerate(iter_records(repo, revisions, rules), start=1):
        index.add(record)
        paths.update(record.paths)
        paths.update(old for _new, old in record.renamed_from)
        progress(count)
    return index, paths
