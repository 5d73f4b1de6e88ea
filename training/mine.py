"""Mine a repository: the feature vector of every commit, exactly as the service computes it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.features.assemble import Services, assemble
from gate.features.blobs import BlobReader
from gate.features.catalog import CATALOG
from gate.features.diff import FileChange
from gate.features.gitlog import iter_commits
from gate.features.history import CommitRecord, HistoryIndex, MessageRules, change_of

Progress = Callable[[str, int], None]


@dataclass(slots=True)
class _Mined:
    """Phase one keeps only this much per commit: bounded by the history, not by the diffs."""

    record: CommitRecord
    parent: str
    message: str
    changes: list[FileChange]
    notes: list[str]


def _no_progress(_stage: str, _done: int) -> None:
    pass


def mine(
    repo: Path,
    revisions: list[str] | None = None,
    rules: MessageRules | None = None,
    services: Services | None = None,
    progress: Progress = _no_progress,
) -> Iterator[dict[str, Any]]:
    """Rows {sha, time, author, <every feature>} oldest first, each from the history before it."""
    rules = rules or MessageRules()
    services = services or Services()
    commits = []
    for count, logged in enumerate(iter_commits(repo, revisions or ["HEAD"]), start=1):
        # hunk-level detail is only needed until the diff features are computed: keep the
        # per-file counts, drop the patch text now
        record = rules.record(
            logged.sha, logged.time, logged.author, logged.message, logged.changes
        )
        commits.append(_Mined(record, logged.parent, logged.message, logged.changes, logged.notes))
        progress("read", count)
    commits.sort(key=lambda mined: (mined.record.time, mined.record.sha))

    index = HistoryIndex()
    with BlobReader(repo) as blobs:
        for count, mined in enumerate(commits, start=1):
            record = mined.record
            change = change_of(record.time, record.author, mined.message, mined.changes)
            vector = assemble(
                mined.changes,
                lines_before=blobs.lines_before(mined.parent, change.paths),
                change=change,
                index=index,
                rules=rules,
                services=services,
                notes=mined.notes,
            )
            index.add(record)
            progress("features", count)
            yield {
                "sha": record.sha,
                "time": record.time,
                "author": record.author,
                **{name: vector.values.get(name) for name in CATALOG},
            }
