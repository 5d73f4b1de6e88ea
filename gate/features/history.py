"""History features (Kamei's FIX, NDEV, AGE, NUC, EXP, REXP, SEXP and more) from a history index.

The index holds, per file and per author, the events of every indexed commit sorted by time. A
change's features are computed from the events strictly before the change's own commit time, so
mining (commits replayed oldest first) and serving (the index of the default branch) see the same.
"""

from __future__ import annotations

import bisect
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from gate.features.diff import FileChange, subsystem
from gate.features.relative import RELATIVE_FEATURES, RepositoryActivity

DAY = 86_400
DEFAULT_FIX_PATTERN = (
    r"(?i)\b(fix(e[sd]|ing)?|bug(s|fix(es)?)?|defect|hotfix|crash(es)?|regression|"
    r"(close[sd]?|resolve[sd]?)\s+#\d+)\b"
)
REVERT_PATTERN = re.compile(r"This reverts commit ([0-9a-f]{7,40})")
# Lines a pull-request merge writes: GitHub's merge commit, and the Apache merge script's
# "Closes #N from user/branch [and squashes the following commits:]" with its list of squashed
# "<sha> [author] message" lines. They name a pull request and its review fix-ups ("fix typo"),
# never a fixed bug, and the branch name ("user/fix-crash") would otherwise read as a fix.
PULL_REQUEST_LINES = re.compile(
    r"(?im)^[ \t]*(?:merge\s+pull\s+request\s+#\d+\s+from\s+\S+.*$"
    r"|closes\s+#\d+\s+from\s+\S+.*$(?:\n+[ \t]*[0-9a-f]{7,40}\s+\[[^\]\n]*\].*$)*)"
)


def without_merge_lines(message: str) -> str:
    """The message less its pull-request merge lines."""
    return PULL_REQUEST_LINES.sub("", message)


HISTORY_FEATURES = (
    "fix",
    "ndev",
    "age",
    "nuc",
    "exp",
    "rexp",
    "sexp",
    "recent_fixes_90d",
    "recent_reverts_90d",
    "author_revert_share",
    "min_file_age_days",
    "author_new_to_service",
    "service_changes_30d",
    "service_changes_90d",
    "service_reverts_90d",
    *RELATIVE_FEATURES,
)


@dataclass(frozen=True, slots=True)
class CommitRecord:
    """What the index keeps of a commit: enough for every history feature, nothing more."""

    sha: str
    time: int
    author: str
    is_fix: bool
    reverts: str | None
    paths: tuple[str, ...]
    renamed_from: tuple[tuple[str, str], ...] = ()  # (new path, old path)

    @property
    def is_revert(self) -> bool:
        return self.reverts is not None

    def to_json(self) -> str:
        return json.dumps(
            [
                self.sha,
                self.time,
                self.author,
                self.is_fix,
                self.reverts,
                self.paths,
                self.renamed_from,
            ],
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, line: str) -> CommitRecord:
        return cls.from_row(json.loads(line))

    @classmethod
    def from_row(cls, row: list) -> CommitRecord:
        sha, time, author, is_fix, reverts, paths, renamed = row
        return cls(
            sha,
            time,
            author,
            is_fix,
            reverts,
            tuple(paths),
            tuple((new, old) for new, old in renamed),
        )


@dataclass(frozen=True)
class Change:
    """The change being assessed, as the history features need it."""

    time: int
    author: str
    message: str
    paths: Sequence[str]  # paths before the change (the old path of a rename)
    new_paths: Sequence[str]  # paths after the change


def change_of(time: int, author: str, message: str, changes: Iterable[FileChange]) -> Change:
    changes = list(changes)
    return Change(
        time=time,
        author=author.lower(),
        message=message,
        paths=[change.old_path or change.path for change in changes],
        new_paths=[change.path for change in changes],
    )


class MessageRules:
    """Which commit messages are bug fixes and reverts (the fix pattern is configurable).

    A pull-request merge line is never a fix on its own: the pattern sees the message without it.
    """

    def __init__(self, fix_pattern: str = DEFAULT_FIX_PATTERN) -> None:
        self.fix = re.compile(fix_pattern)

    def is_fix(self, message: str) -> bool:
        return bool(self.fix.search(without_merge_lines(message)))

    def reverted_sha(self, message: str) -> str | None:
        found = REVERT_PATTERN.search(message)
        return found.group(1) if found else None

    def record(
        self, sha: str, time: int, author: str, message: str, changes: Sequence[FileChange]
    ) -> CommitRecord:
        return CommitRecord(
            sha=sha,
            time=time,
            author=author.lower(),
            is_fix=self.is_fix(message),
            reverts=self.reverted_sha(message),
            paths=tuple(change.path for change in changes),
            renamed_from=tuple(
                (change.path, change.old_path) for change in changes if change.old_path
            ),
        )


class _Times:
    """Times in any insertion order, sorted when first queried after a change."""

    __slots__ = ("_sorted", "_times")

    def __init__(self) -> None:
        self._times: list[int] = []
        self._sorted = True

    def __len__(self) -> int:
        return len(self._times)

    def add(self, time: int) -> None:
        if self._times and time < self._times[-1]:
            self._sorted = False
        self._times.append(time)

    def sorted(self) -> list[int]:
        if not self._sorted:
            self._times.sort()
            self._sorted = True
        return self._times

    def before(self, time: int) -> int:
        """How many times are strictly before `time`."""
        return bisect.bisect_left(self.sorted(), time)

    def between(self, start: int, end: int) -> int:
        """How many times are in [start, end)."""
        times = self.sorted()
        return bisect.bisect_left(times, end) - bisect.bisect_left(times, start)


class _FileHistory:
    """The commits that changed one path, by time, and when each author first changed it."""

    __slots__ = ("_by_first_change", "_sorted", "first_by_author", "records", "times")

    def __init__(self) -> None:
        self.records: list[CommitRecord] = []
        self.times: list[int] = []  # the records' times, for bisection
        self.first_by_author: dict[str, int] = {}
        self._sorted = True
        self._by_first_change: tuple[list[int], list[str]] | None = None

    def add(self, record: CommitRecord) -> None:
        if self.times and record.time < self.times[-1]:
            self._sorted = False
        self.records.append(record)
        self.times.append(record.time)
        first = self.first_by_author.get(record.author)
        if first is None or record.time < first:
            self.first_by_author[record.author] = record.time
            self._by_first_change = None

    def before(self, time: int) -> int:
        """How many of the commits are strictly before `time` (and sorts them if needed)."""
        if not self._sorted:
            self.records.sort(key=_time_of)  # stable: equal times keep their insertion order
            self.times = [record.time for record in self.records]
            self._sorted = True
        return bisect.bisect_left(self.times, time)

    def authors_before(self, time: int) -> list[str]:
        """The authors who changed the path strictly before `time`."""
        if self._by_first_change is None:
            ordered = sorted((first, author) for author, first in self.first_by_author.items())
            self._by_first_change = ([first for first, _ in ordered], [a for _, a in ordered])
        firsts, authors = self._by_first_change
        return authors[: bisect.bisect_left(firsts, time)]


def _time_of(record: CommitRecord) -> int:
    return record.time


@dataclass(frozen=True, slots=True)
class _Span:
    """The first `end` commits of a file history: those before `cutoff` (a rename, or now)."""

    history: _FileHistory
    end: int
    cutoff: int


@dataclass
class _FileFacts:
    """What the history of the changed files says, before the change."""

    changes: int = 0
    authors: set[str] = field(default_factory=set)
    days_since: list[float] = field(default_factory=list)  # per file that existed
    recent: dict[str, CommitRecord] = field(default_factory=dict)  # sha -> commit, 90 days


class _AuthorHistory:
    """One author's commits and file changes (one per file per commit), as times."""

    __slots__ = ("_touch_array", "commits", "reverted", "touches", "touches_by_subsystem")

    def __init__(self) -> None:
        self.commits = _Times()
        self.touches = _Times()
        self.touches_by_subsystem: dict[str, _Times] = {}
        self.reverted = _Times()  # when this author's commits were reverted
        self._touch_array: np.ndarray | None = None

    def add(self, record: CommitRecord) -> None:
        self.commits.add(record.time)
        for path in record.paths:
            self.touches.add(record.time)
            self.touches_by_subsystem.setdefault(subsystem(path), _Times()).add(record.time)
        self._touch_array = None

    def recency(self, now: int) -> float:
        """Earlier file changes weighted 1/(1 + days since), summed (REXP without this change)."""
        if self._touch_array is None:
            self._touch_array = np.array(self.touches.sorted(), dtype=np.int64)
        earlier = self._touch_array[: self.touches.before(now)]
        return float(np.sum(1.0 / (1.0 + (now - earlier) / DAY)))

    def touches_in(self, subsystems: Iterable[str], now: int) -> int:
        found = (self.touches_by_subsystem.get(name) for name in subsystems)
        return sum(times.before(now) for times in found if times is not None)


class ServiceMap(Protocol):
    """How paths map to services; equal fingerprints promise equal mappings."""

    @property
    def fingerprint(self) -> Hashable: ...

    def service_of(self, path: str) -> str: ...


class _Directories:
    """The default mapping: each top-level directory is a service."""

    fingerprint = "top-level directories"

    def service_of(self, path: str) -> str:
        return subsystem(path)


class _ServiceActivity:
    """Per service of one mapping: when commits and reverts touched it, when each author first did.

    Built from the index's records in the order they were added, and brought up to date with
    the records added since on every use.
    """

    def __init__(self) -> None:
        self.indexed = 0  # how many of the index's records are counted here
        self._changes: dict[str, _Times] = {}
        self._reverts: dict[str, _Times] = {}
        self._first_by_author: dict[str, dict[str, int]] = {}

    def catch_up(self, added: list[CommitRecord], services: ServiceMap) -> None:
        if self.indexed == len(added):
            return
        for record in added[self.indexed :]:
            firsts = self._first_by_author.setdefault(record.author, {})
            for service in {services.service_of(path) for path in record.paths}:
                self._changes.setdefault(service, _Times()).add(record.time)
                if record.is_revert:
                    self._reverts.setdefault(service, _Times()).add(record.time)
                first = firsts.get(service)
                if first is None or record.time < first:
                    firsts[service] = record.time
        self.indexed = len(added)

    def is_new(self, author: str, services: Iterable[str], now: int) -> bool:
        """Whether `author` changed none of the files of one of `services` before `now`."""
        firsts = self._first_by_author.get(author, {})
        return any(firsts.get(service, now) >= now for service in services)

    def counts(self, services: Iterable[str], now: int) -> dict[str, float | None]:
        changes_30d = changes_90d = reverts_90d = 0
        for service in services:
            if changes := self._changes.get(service):
                changes_30d += changes.between(now - 30 * DAY, now)
                changes_90d += changes.between(now - 90 * DAY, now)
            if reverts := self._reverts.get(service):
                reverts_90d += reverts.between(now - 90 * DAY, now)
        return {
            "service_changes_30d": float(changes_30d),
            "service_changes_90d": float(changes_90d),
            "service_reverts_90d": float(reverts_90d),
        }


_DIRECTORIES = _Directories()
_MAX_RENAME_DEPTH = 50  # stops a rename cycle (a -> b -> a)
_MAPPINGS_KEPT = 4  # service mappings whose activity is kept (one per config in use)


class HistoryIndex:
    """Per-file, per-author and per-service histories of the indexed commits.

    Queries sort and cache lazily, so adding stays cheap in any order; a lock keeps queries from
    several threads (the service's) and adds from seeing each other's half-done work.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_sha: dict[str, CommitRecord] = {}
        self._added: list[CommitRecord] = []  # in the order they were added
        self._files: dict[str, _FileHistory] = {}
        self._authors: dict[str, _AuthorHistory] = {}
        self._renames: dict[str, list[tuple[int, str]]] = {}  # new path -> (time, old path)
        self._pending_reverts: dict[str, list[int]] = {}  # reverted sha (prefix) -> revert times
        self._pending_lengths: set[int] = set()  # the lengths of those prefixes
        self._sha_length = 0
        self._activity: OrderedDict[Hashable, _ServiceActivity] = OrderedDict()
        self._repository = RepositoryActivity()

    def __len__(self) -> int:
        return len(self._by_sha)

    def __contains__(self, sha: str) -> bool:
        return sha in self._by_sha

    def add(self, record: CommitRecord) -> None:
        with self._lock:
            self._add(record)

    def _add(self, record: CommitRecord) -> None:
        if record.sha in self._by_sha:
            return
        self._by_sha[record.sha] = record
        self._added.append(record)
        self._sha_length = max(self._sha_length, len(record.sha))
        for new, old in record.renamed_from:
            # a moved file keeps its history: resolved at query time, whatever the insert order
            bisect.insort(self._renames.setdefault(new, []), (record.time, old))
        for path in record.paths:
            self._files.setdefault(path, _FileHistory()).add(record)
        self._author(record.author).add(record)
        if record.reverts:
            self._mark_reverted(record.reverts, record.time)
        self._resolve_pending_reverts(record)

    def _author(self, author: str) -> _AuthorHistory:
        history = self._authors.get(author)
        if history is None:
            history = self._authors[author] = _AuthorHistory()
        return history

    def _mark_reverted(self, reverted: str, time: int) -> None:
        target = self._find(reverted)
        if target is None:  # the reverted commit arrives later (out-of-order indexing)
            self._pending_reverts.setdefault(reverted, []).append(time)
            self._pending_lengths.add(len(reverted))
            return
        self._author(target.author).reverted.add(time)

    def _find(self, sha: str) -> CommitRecord | None:
        """The commit `sha` names, in full or abbreviated."""
        found = self._by_sha.get(sha)
        if found is None and len(sha) < self._sha_length:
            found = next((r for full, r in self._by_sha.items() if full.startswith(sha)), None)
        return found

    def _resolve_pending_reverts(self, record: CommitRecord) -> None:
        if not self._pending_reverts:
            return
        for length in self._pending_lengths:
            for time in self._pending_reverts.pop(record.sha[:length], ()):
                self._author(record.author).reverted.add(time)

    def features(
        self, change: Change, rules: MessageRules, services: ServiceMap | None = None
    ) -> dict[str, float | None]:
        """History features of `change` from the commits strictly before its time."""
        with self._lock:
            return self._features(change, rules, services or _DIRECTORIES)

    def _features(
        self, change: Change, rules: MessageRules, services: ServiceMap
    ) -> dict[str, float | None]:
        now = change.time
        files = len(change.paths)
        facts = self._file_facts(change.paths, now)
        author = self._authors.get(change.author) or _AuthorHistory()
        commits = author.commits.before(now)
        touched = {services.service_of(path) for path in change.new_paths}
        activity = self._activity_of(services)
        days_since = facts.days_since
        ndev = len(facts.authors | {change.author})
        earlier_touches = author.touches.before(now)
        self._repository.catch_up(self._added)
        values: dict[str, float | None] = {
            "fix": float(rules.is_fix(change.message)),
            "ndev": float(ndev),
            "age": sum(days_since) / len(days_since) if days_since else 0.0,
            "nuc": float(facts.changes + files),
            "exp": float(earlier_touches + files),
            "rexp": author.recency(now) + files,
            "sexp": float(author.touches_in({subsystem(p) for p in change.new_paths}, now)),
            "recent_fixes_90d": float(sum(r.is_fix for r in facts.recent.values())),
            "recent_reverts_90d": float(sum(r.is_revert for r in facts.recent.values())),
            "author_revert_share": author.reverted.before(now) / commits if commits else None,
            "min_file_age_days": min(days_since) if days_since else None,
            "author_new_to_service": float(activity.is_new(change.author, touched, now)),
        }
        relative = self._repository.features(now, files, earlier_touches, ndev)
        return values | activity.counts(touched, now) | relative

    def _file_facts(self, paths: Sequence[str], now: int) -> _FileFacts:
        facts = _FileFacts()
        window = now - 90 * DAY
        for path in dict.fromkeys(paths):
            last = None
            for span in self._spans(path, now):
                if not span.end:
                    continue
                history = span.history
                facts.changes += span.end
                last = history.times[span.end - 1]
                facts.authors.update(history.authors_before(span.cutoff))
                for record in history.records[history.before(window) : span.end]:
                    facts.recent[record.sha] = record
            if last is not None:
                facts.days_since.append((now - last) / DAY)
        return facts

    def _spans(self, path: str, now: int) -> list[_Span]:
        """The commits that changed `path` before `now`, under this and earlier names, oldest
        name first."""
        spans: list[_Span] = []
        for _ in range(_MAX_RENAME_DEPTH + 1):
            history = self._files.get(path)
            if history is not None:
                spans.append(_Span(history, history.before(now), now))
            renames = self._renames.get(path, [])
            earlier = bisect.bisect_left(renames, (now, ""))  # renames strictly before now
            if not earlier:
                break
            now, path = renames[earlier - 1]
        spans.reverse()
        return spans

    def _activity_of(self, services: ServiceMap) -> _ServiceActivity:
        key = services.fingerprint
        activity = self._activity.pop(key, None) or _ServiceActivity()
        self._activity[key] = activity  # most recently used last
        while len(self._activity) > _MAPPINGS_KEPT:
            self._activity.popitem(last=False)
        activity.catch_up(self._added, services)
        return activity

    def records(self) -> Iterator[CommitRecord]:
        """The indexed commits by time (equal times in the order they were added)."""
        with self._lock:
            return iter(sorted(self._added, key=_time_of))


def save_records(records: Iterable[CommitRecord], path: Path, append: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a" if append else "w", encoding="utf-8") as out:
        for record in records:
            out.write(record.to_json() + "\n")


def load_index(path: Path) -> HistoryIndex:
    """The index persisted as one JSON line per commit; a torn last line is ignored."""
    index = HistoryIndex()
    if not path.is_file():
        return index
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                index.add(CommitRecord.from_json(line))
            except (ValueError, TypeError):
                continue
    return index
