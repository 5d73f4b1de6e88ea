"""Which commits fix bugs: an issue tracker's bugs first, message words only as a fallback."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import pandas as pd

from gate.features.history import REVERT_PATTERN, without_merge_lines
from training.szz import Commit, FixRules

BUG_TYPES = ("bug", "defect")
KEY_COLUMNS = ("issue_key", "key", "id", "number")
TYPE_COLUMNS = ("issue_type", "type", "issuetype", "kind")
# "fixes #12", "closes #12", "resolved #12": GitHub's closing keywords
CLOSING_REFERENCE = re.compile(r"(?i)\b(?:fix(?:e[sd])?|close[sd]?|resolve[sd]?)[:\s]+#(\d+)\b")


class IssueExportError(ValueError):
    """An issue export cannot be read: no key or type column, no keys, a bad key pattern."""


class FixSource(Protocol):
    """Decides which commits are bug fixes; `name` says how (recorded with the labels)."""

    @property
    def name(self) -> str: ...

    def is_fix(self, commit: Commit) -> bool: ...

    def choose(self, fixes: list[Commit]) -> list[Commit]:
        """The fixes to blame among the candidates `is_fix` found (all of them, or one per
        issue), newest first as given."""
        ...


@dataclass(frozen=True)
class MessageWords:
    """The fallback for a repository without a tracker: fix words and `Fixes #N` in messages."""

    rules: FixRules = field(default_factory=FixRules)
    name: str = "message words"

    def is_fix(self, commit: Commit) -> bool:
        return self.rules.is_fix(commit.message)

    def choose(self, fixes: list[Commit]) -> list[Commit]:
        return fixes


@dataclass(frozen=True)
class IssueExport:
    """A tracker's issues, exported: the keys it calls a bug, and how messages name a key.

    Of the commits naming one bug, the last is its fix (`per_issue="last"`): the one that
    resolved it, as GitHub's closing commit or pull request is. The earlier ones are partial
    attempts, follow-ups that are re-done, or tests; blaming them too doubled the fixes and cut
    precision against ApacheJIT (0.69 on activemq). A commit that is the last for one of the
    bugs it names is a fix.
    """

    bugs: frozenset[str]
    others: frozenset[str]
    key_pattern: str
    per_issue: Literal["last", "all"] = "last"

    @property
    def name(self) -> str:
        return f"issue export ({len(self.bugs)} bugs, keys {self.key_pattern})"

    def keys_in(self, message: str) -> set[str]:
        found = set()
        for match in re.finditer(self.key_pattern, without_merge_lines(message)):
            found.add(_normal(match.group(1) if match.groups() else match.group(0)))
        return found

    def is_fix(self, commit: Commit) -> bool:
        if REVERT_PATTERN.search(commit.message):
            return False  # a revert's deletions are the reverted change: the revert rule's job
        return bool(self.keys_in(commit.message) & self.bugs)

    def choose(self, fixes: list[Commit]) -> list[Commit]:
        if self.per_issue == "all":
            return fixes
        last: dict[str, Commit] = {}
        for commit in fixes:
            for key in self.keys_in(commit.message) & self.bugs:
                if key not in last or commit.time > last[key].time:
                    last[key] = commit  # on equal times the first seen: the newer in the log
        chosen = {commit.sha for commit in last.values()}
        return [commit for commit in fixes if commit.sha in chosen]


@dataclass(frozen=True)
class TrackerFixes:
    """Fixes a tracker named: the commits that closed bug issues (and merged bug pull
    requests), and any commit whose message closes one of those issues by number."""

    commits: frozenset[str]
    bug_numbers: frozenset[int]
    source: str

    @property
    def name(self) -> str:
        return f"{self.source} ({len(self.bug_numbers)} bugs, {len(self.commits)} commits)"

    def is_fix(self, commit: Commit) -> bool:
        if REVERT_PATTERN.search(commit.message):
            return False
        if commit.sha in self.commits:
            return True
        text = without_merge_lines(commit.message)
        return any(int(n) in self.bug_numbers for n in CLOSING_REFERENCE.findall(text))

    def choose(self, fixes: list[Commit]) -> list[Commit]:
        return fixes


def find_fixes(commits: Iterable[Commit], source: FixSource) -> list[Commit]:
    """The fixes among `commits`; a root commit has no parent to blame and is never one."""
    return source.choose([commit for commit in commits if commit.parent and source.is_fix(commit)])


def read_issue_export(
    path: Path, key_pattern: str | None = None, bug_types: Iterable[str] = BUG_TYPES
) -> IssueExport:
    """A CSV or JSON (a list of objects) export with a key and a type column, e.g. Jira's
    `issue_key,issue_type`. Without `key_pattern`, it is derived from the keys' prefixes."""
    try:
        if path.suffix.lower() == ".json":
            frame = pd.DataFrame(json.loads(path.read_text()))
        else:
            frame = pd.read_csv(path, dtype=str)
    except (OSError, ValueError) as error:
        raise IssueExportError(f"{path}: {error}") from error
    columns = {str(name).lower(): name for name in frame.columns}
    key = next((columns[c] for c in KEY_COLUMNS if c in columns), None)
    kind = next((columns[c] for c in TYPE_COLUMNS if c in columns), None)
    if key is None or kind is None:
        raise IssueExportError(
            f"{path}: needs a key column ({', '.join(KEY_COLUMNS)}) and a type column "
            f"({', '.join(TYPE_COLUMNS)}); it has {', '.join(map(str, frame.columns))}"
        )
    frame = frame[[key, kind]].dropna()
    keys = frame[key].astype(str).str.strip()
    if keys.empty:
        raise IssueExportError(f"{path}: no issues")
    wanted = {name.lower() for name in bug_types}
    is_bug = frame[kind].astype(str).str.strip().str.lower().isin(wanted)
    pattern = key_pattern or key_pattern_from(keys)
    try:
        re.compile(pattern)
    except re.error as error:
        raise IssueExportError(f"issue key pattern {pattern!r}: {error}") from error
    return IssueExport(
        bugs=frozenset(_normal(k) for k in keys[is_bug]),
        others=frozenset(_normal(k) for k in keys[~is_bug]),
        key_pattern=pattern,
    )


def key_pattern_from(keys: Iterable[str]) -> str:
    """A regex for the keys' form: Jira's `PROJ-123` by their prefixes, else `#123`."""
    prefixes = sorted({m.group(1).upper() for k in keys if (m := _JIRA_KEY.fullmatch(k.strip()))})
    if prefixes:
        return rf"(?i)\b((?:{'|'.join(map(re.escape, prefixes))})-\d+)\b"
    return r"(?<![\w/])#(\d+)\b"


def _normal(key: str) -> str:
    return key.strip().upper().lstrip("#")


_JIRA_KEY = re.compile(r"([A-Za-z][A-Za-z0-9_]*)-\d+")
