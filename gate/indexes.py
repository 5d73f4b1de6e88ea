"""History indexes of mirrored repositories: built once, updated incrementally, kept on disk."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from gate.features.gitlog import iter_records
from gate.features.history import HistoryIndex, MessageRules, load_index, save_records
from gate.gitcmd import git, resolve

INDEXED_REFS = "refs/riskgate/indexed/"


@dataclass
class _Loaded:
    index: HistoryIndex
    lock: threading.Lock


class HistoryIndexes:
    """One index per repository, next to its mirror: `<mirror>.history.jsonl`.

    The file is an append-only log of commit records; `refs/riskgate/indexed/<branch>` in the
    mirror says how far each branch is indexed, so an update reads only the new commits.
    """

    def __init__(self, rules: MessageRules | None = None) -> None:
        self.rules = rules or MessageRules()
        self._loaded: dict[Path, _Loaded] = {}
        self._guard = threading.Lock()

    @staticmethod
    def file_for(mirror: Path) -> Path:
        return mirror.with_name(mirror.name + ".history.jsonl")

    def get(self, mirror: Path) -> _Loaded:
        with self._guard:
            loaded = self._loaded.get(mirror)
            if loaded is None:
                loaded = _Loaded(load_index(self.file_for(mirror)), threading.Lock())
                self._loaded[mirror] = loaded
            return loaded

    def update(self, mirror: Path, branch: str) -> HistoryIndex:
        """Index the commits of `branch` not indexed yet; return the index."""
        loaded = self.get(mirror)
        with loaded.lock:
            tip = resolve(mirror, f"refs/heads/{branch}")
            if tip is None:
                return loaded.index
            indexed_refs = git(mirror, "for-each-ref", "--format=%(refname)", INDEXED_REFS)
            exclude = [f"^{ref}" for ref in indexed_refs.decode().split()]
            records = iter_records(mirror, [tip, *exclude], self.rules)
            new = [record for record in records if record.sha not in loaded.index]
            new.reverse()  # oldest first
            save_records(new, self.file_for(mirror))
            for record in new:
                loaded.index.add(record)
            git(mirror, "update-ref", f"{INDEXED_REFS}{branch}", tip)
            return loaded.index
