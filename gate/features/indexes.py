"""History indexes of mirrors and local repositories: built once, updated incrementally, on disk."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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
    path = _local_file(repo, rules, store)
    known = _read_records(path) if path else {}
    missing = [commit for commit in commits if commit[0] not in known]
    if missing:
        new = list(records_of(repo, missing, rules))
        known.update((record.sha, record) for record in new)
        if path:
            _append(path, new)
    index = HistoryIndex()
    for sha, _ in commits:
        index.add(known[sha])
    return index


def _local_file(repo: Path, rules: MessageRules, store: Path | None) -> Path | None:
    """Where the repository's records live, or None when nowhere there can be written."""
    if store is None:
        try:
            common = git(repo, "rev-parse", "--path-format=absolute", "--git-common-dir")
        except GitError:
            return None
        store = Path(common.decode("utf-8", "surrogateescape").strip()) / "riskgate"
    if not os.access(store if store.exists() else store.parent, os.W_OK):
        return None  # a read-only repository: the index is built in memory, as before
    return store / f"history-{record_fingerprint(rules)}.jsonl"


def _read_records(path: Path) -> dict[str, CommitRecord]:
    records: dict[str, CommitRecord] = {}
    try:
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    record = CommitRecord.from_json(line)
                except (ValueError, TypeError):
                    continue  # a line torn by a crash: its commit is read again
                records[record.sha] = record
    except FileNotFoundError:
        pass
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
