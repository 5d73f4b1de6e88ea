"""History features (Kamei's FIX, NDEV, AGE, NUC, EXP, REXP, SEXP and more) from a history index.

The index holds, per file and per author, the events of every indexed commit sorted by time. A
change's features are computed from the events strictly before the change's own commit time, so
mining (commits replayed oldest first) and serving (the index of the default branch) see the same.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gate.features.diff import FileChange, subsystem

DAY = 86_400
DEFAULT_FIX_PATTERN = (
    r"(?i)\b(fix(e[sd]|ing)?|bug(s|fix(es)?)?|defect|hotfix|crash(es)?|regression|"
    r"(close[sd]?|resolve[sd]?)\s+#\d+)\b"
)
REVERT_PATTERN = re.compile(r"This reverts commit ([0-9a-f]{7,40})")

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
        sha, time, author, is_fix, reverts, paths, renamed = json.loads(line)
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
    """Which commit messages are bug fixes and reverts (the fix pattern is configurable)."""

    def __init__(self, fix_pattern: str = DEFAULT_FIX_PATTERN) -> None:
        self.fix = re.compile(fix_pattern)

    def is_fix(self, message: str) -> bool:
        return bool(self.fix.search(message))

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


@dataclass
class _Timeline:
    """Events sorted by time, with their times in a parallel list for bisection."""

    times: list[int] = field(default_factory=list)
    events: list[CommitRecord] = field(default_factory=list)

    def add(self, time: int, event: CommitRecord) -> None:
        if not self.times or time >= self.times[-1]:
            self.times.append(time)
            self.events.append(event)
        else:
            at = bisect.bisect_right(self.times, time)
            self.times.insert(at, time)
            self.events.insert(at, event)

    def before(self, time: int) -> int:
        return bisect.bisect_left(self.times, time)

    def between(self, start: int, end: int) -> list[CommitRecord]:
        return self.events[bisect.bisect_left(self.times, start) : self.before(end)]


ServiceOf = Callable[[str], str]


class HistoryIndex:
    """Per-file and per-author timelines of the indexed commits."""

    def __init__(self) -> None:
        self._files: dict[str, _Timeline] = {}
        self._authors: dict[str, _Timeline] = {}
        self._author_touches: dict[str, list[tuple[int, str]]] = {}  # sorted (time, path)
        self._reverted: dict[str, list[int]] = {}  # author -> times their commits were reverted
        self._commits = _Timeline()
        self._by_sha: dict[str, CommitRecord] = {}
        self._pending_reverts: dict[str, list[int]] = {}  # reverted sha -> revert times
        self._renames: dict[str, list[tuple[int, str]]] = {}  # new path -> (time, old path)

    def __len__(self) -> int:
        return len(self._by_sha)

    def __contains__(self, sha: str) -> bool:
        return sha in self._by_sha

    def add(self, record: CommitRecord) -> None:
        if record.sha in self._by_sha:
            return
        self._by_sha[record.sha] = record
        self._commits.add(record.time, record)
        for new, old in record.renamed_from:
            # a moved file keeps its history: resolved at query time, whatever the insert order
            bisect.insort(self._renames.setdefault(new, []), (record.time, old))
        for path in record.paths:
            self._files.setdefault(path, _Timeline()).add(record.time, record)
        self._authors.setdefault(record.author, _Timeline()).add(record.time, record)
        touches = self._author_touches.setdefault(record.author, [])
        for path in record.paths:
            bisect.insort(touches, (record.time, path))
        if record.reverts:
            self._mark_reverted(record.reverts, record.time)
        for prefix, times in list(self._pending_reverts.items()):
            if record.sha.startswith(prefix):
                for time in times:
                    bisect.insort(self._reverted.setdefault(record.author, []), time)
                del self._pending_reverts[prefix]

    def _mark_reverted(self, reverted: str, time: int) -> None:
        target = self._by_sha.get(reverted) or next(
            (r for sha, r in self._by_sha.items() if sha.startswith(reverted)), None
        )
        if target is None:  # the reverted commit arrives later (out-of-order indexing)
            self._pending_reverts.setdefault(reverted, []).append(time)
            return
        bisect.insort(self._reverted.setdefault(target.author, []), time)

    def features(
        self, change: Change, rules: MessageRules, service_of: ServiceOf | None = None
    ) -> dict[str, float | None]:
        """History features of `change` from the commits strictly before its time."""
        now = change.time
        service_of = service_of or subsystem
        prior = {path: self._prior(path, now) for path in dict.fromkeys(change.paths)}
        existing = {path: events for path, events in prior.items() if events}
        authors = {event.author for events in existing.values() for event in events}
        days_since = [(now - events[-1].time) / DAY for events in existing.values()]
        window = now - 90 * DAY
        recent = {e.sha: e for events in existing.values() for e in events if e.time >= window}

        author_commits = self._authors.get(change.author, _Timeline()).before(now)
        touches = self._author_touches.get(change.author, [])
        earlier = touches[: bisect.bisect_left(touches, (now, ""))]
        subsystems = {subsystem(path) for path in change.new_paths}
        services = {service_of(path) for path in change.new_paths}
        services_before = {service_of(path) for _, path in earlier}
        reverted = bisect.bisect_left(self._reverted.get(change.author, []), now)
        files = len(change.paths)

        values: dict[str, float | None] = {
            "fix": float(rules.is_fix(change.message)),
            "ndev": float(len(authors | {change.author})),
            "age": sum(days_since) / len(days_since) if days_since else 0.0,
            "nuc": float(sum(len(events) for events in prior.values()) + files),
            "exp": float(len(earlier) + files),
            "rexp": sum(1.0 / (1.0 + (now - time) / DAY) for time, _ in earlier) + files,
            "sexp": float(sum(1 for _, path in earlier if subsystem(path) in subsystems)),
            "recent_fixes_90d": float(sum(e.is_fix for e in recent.values())),
            "recent_reverts_90d": float(sum(e.is_revert for e in recent.values())),
            "author_revert_share": reverted / author_commits if author_commits else None,
            "min_file_age_days": min(days_since) if days_since else None,
            "author_new_to_service": float(bool(services - services_before)),
        }
        return values | self._service_activity(services, now, service_of)

    def _prior(self, path: str, now: int, depth: int = 0) -> list[CommitRecord]:
        """The commits that changed `path` (under this or an earlier name) before `now`."""
        timeline = self._files.get(path)
        events = timeline.events[: timeline.before(now)] if timeline else []
        renames = self._renames.get(path, [])
        earlier = [(time, old) for time, old in renames if time < now]
        if earlier and depth < 50:  # the depth guard stops a rename cycle (a -> b -> a)
            time, old = earlier[-1]
            return self._prior(old, time, depth + 1) + events
        return events

    def _service_activity(
        self, services: set[str], now: int, service_of: ServiceOf
    ) -> dict[str, float | None]:
        counts = {
            "service_changes_30d": 0.0,
            "service_changes_90d": 0.0,
            "service_reverts_90d": 0.0,
        }
        for record in self._commits.between(now - 90 * DAY, now):
            touched = len(services.intersection(service_of(path) for path in record.paths))
            counts["service_changes_90d"] += touched
            counts["service_reverts_90d"] += touched * record.is_revert
            if record.time >= now - 30 * DAY:
                counts["service_changes_30d"] += touched
        return dict(counts)

    def records(self) -> Iterator[CommitRecord]:
        return iter(self._commits.events)


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
