"""History indexes of mirrors and local repositories: built once, updated incrementally, on disk."""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from gate.features.gitlog import iter_records, record_fingerprint, records_of
from gate.features.history import (
    CommitRecord,
    HistoryIndex,
    MessageRules,
    load_index,
    save_records,
)
from gate.git.cmd import GitError, git
from gate.git.logstream import rev_list
from gate.git.objects import ObjectReaders

INDEXED_REFS = "refs/riskgate/indexed/"


@dataclass
class _Loaded:
    index: HistoryIndex
    lock: threading.Lock
    file_size: int  # of the index file when this process last read or wrote it
    tips: dict[str, str] = field(default_factory=dict)  # branch -> the tip this index covers


class HistoryIndexes:
    """One index per repository, next to its mirror: `<mirror>.history.jsonl`.

    The file is an append-only log of commit records; `refs/riskgate/indexed/<branch>` in the
    mirror says how far each branch is indexed, so an update reads only the new commits. Several
    processes may serve one mirror: they append under a file lock, and each reloads the file
    when it grew by another's hand.
    """

    def __init__(self, rules: MessageRules | None = None, objects: ObjectReaders | None = None):
        self.rules = rules or MessageRules()
        self.objects = objects or ObjectReaders()
        self._loaded: dict[Path, _Loaded] = {}
        self._guard = threading.Lock()

    @staticmethod
    def file_for(mirror: Path) -> Path:
        return mirror.with_name(mirror.name + ".history.jsonl")

    def get(self, mirror: Path) -> _Loaded:
        with self._guard:
            loaded = self._loaded.get(mirror)
            if loaded is None:
                path = self.file_for(mirror)
                size = _size(path)
                loaded = _Loaded(load_index(path), threading.Lock(), size)
                self._loaded[mirror] = loaded
            return loaded

    def update(self, mirror: Path, branch: str) -> HistoryIndex:
        """Index the commits of `branch` not indexed yet; return the index."""
        loaded = self.get(mirror)
        tip = self.objects.get(mirror).commit_sha(f"refs/heads/{branch}")
        if tip is None:
            return loaded.index
        if loaded.tips.get(branch) == tip:
            return loaded.index  # the common case: nothing pushed since the last look
        with loaded.lock, _file_lock(self.file_for(mirror)):
            self._catch_up(mirror, loaded)
            indexed_refs = git(mirror, "for-each-ref", "--format=%(refname)", INDEXED_REFS)
            exclude = [f"^{ref}" for ref in indexed_refs.decode().split()]
            records = iter_records(mirror, [tip, *exclude], self.rules)
            new = [record for record in records if record.sha not in loaded.index]
            new.reverse()  # oldest first
            if new:
                save_records(new, self.file_for(mirror))
                loaded.file_size = _size(self.file_for(mirror))
            for record in new:
                loaded.index.add(record)
            git(mirror, "update-ref", f"{INDEXED_REFS}{branch}", tip)
            loaded.tips[branch] = tip
            return loaded.index

    def _catch_up(self, mirror: Path, loaded: _Loaded) -> None:
        """Reload the file when another process appended to it since this one read it."""
        path = self.file_for(mirror)
        if _size(path) != loaded.file_size:
            loaded.index = load_index(path)
            loaded.file_size = _size(path)
            loaded.tips.clear()


LARGE_BUILD = 1_000  # commits indexed in one call past which a missing commit-graph is written


def local_index(
    repo: Path, revisions: Sequence[str], rules: MessageRules, store: Path | None = None
) -> HistoryIndex:
    """The index of exactly the commits of `git log <revisions>`, as `iter_records` reads them.

    Records are kept in `store` (by default `riskgate/` in the repository's git directory, never
    its work tree), one file per `record_fingerprint`: a call reads the file, asks git only for
    the commits it lacks and appends them, so a warm index costs one `git rev-list` and a read.
    The index is built in `git log`'s order from the records of exactly these commits (other
    branches' records in the file stay out), so its features are those of a fresh build.
    """
    commits = rev_list(repo, revisions)
    git_dir = _git_dir(repo)
    if store is None and git_dir is not None:
        store = git_dir / "riskgate"
    path = _writable(store / f"history-{record_fingerprint(rules)}.jsonl") if store else None
    known = _read_records(path) if path else {}
    missing = [commit for commit in commits if commit[0] not in known]
    if missing:
        new = list(records_of(repo, missing, rules))
        known.update((record.sha, record) for record in new)
        if path:
            _append(path, new)
            if len(new) >= LARGE_BUILD and git_dir is not None:
                _ensure_commit_graph(repo, git_dir)
    index = HistoryIndex()
    for sha, _ in commits:
        index.add(known[sha])
    return index


def _git_dir(repo: Path) -> Path | None:
    try:
        common = git(repo, "rev-parse", "--path-format=absolute", "--git-common-dir")
    except GitError:
        return None
    return Path(common.decode("utf-8", "surrogateescape").strip())


def _writable(path: Path) -> Path | None:
    """`path`, or None where it cannot be written (a read-only repository: index in memory)."""
    existing = next(parent for parent in (path, *path.parents) if parent.exists())
    return path if os.access(existing, os.W_OK) else None


def _ensure_commit_graph(repo: Path, git_dir: Path) -> None:
    """Write git's commit-graph where there is none, as `git gc` and `git maintenance` do.

    The warm path's one git run is `git rev-list` over the whole history: on 10,000 commits it
    takes 0.14 s without a commit-graph and 0.01 s with one, and its output is the same.
    """
    info = git_dir / "objects" / "info"
    if (info / "commit-graph").exists() or (info / "commit-graphs").exists():
        return
    with suppress(GitError, OSError):
        git(repo, "commit-graph", "write", "--reachable", "--no-progress")


def _read_records(path: Path) -> dict[str, CommitRecord]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    lines = text.splitlines()
    try:  # one parse for the whole file: a third faster than a parse per line
        rows = json.loads("[" + ",".join(lines) + "]")
        return {row[0]: CommitRecord.from_row(row) for row in rows}
    except (ValueError, TypeError):
        pass
    records: dict[str, CommitRecord] = {}
    for line in lines:
        try:
            record = CommitRecord.from_json(line)
        except (ValueError, TypeError):
            continue  # a line torn by a crash: its commit is read again
        records[record.sha] = record
    return records


def _append(path: Path, records: list[CommitRecord]) -> None:
    try:
        with _file_lock(path):
            if _size(path):
                with path.open("rb") as existing:
                    existing.seek(-1, os.SEEK_END)
                    torn = existing.read(1) != b"\n"
                if torn:  # end a torn last line, so the first new record is whole
                    with path.open("a", encoding="utf-8") as out:
                        out.write("\n")
            save_records(records, path)
    except OSError:
        pass  # the index is only a cache: this call has its records either way


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


@contextmanager
def _file_lock(index_file: Path) -> Iterator[None]:
    index_file.parent.mkdir(parents=True, exist_ok=True)
    with open(index_file.with_name(index_file.name + ".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
