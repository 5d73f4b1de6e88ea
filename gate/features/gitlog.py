"""Commits with their diffs, streamed in bounded memory from framing no content can forge."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from itertools import chain, islice
from pathlib import Path
from types import CodeType

from unidiff import PatchSet
from unidiff.constants import RE_BINARY_DIFF, RE_PATCH_FILE_PREFIX, RE_TARGET_FILENAME
from unidiff.errors import UnidiffParseError

from gate.features.blobs import BlobIds
from gate.features.diff import MAX_PATCH_BYTES, FileChange, file_change, numstat_changes
from gate.features.history import (
    PULL_REQUEST_LINES,
    REVERT_PATTERN,
    CommitRecord,
    MessageRules,
    without_merge_lines,
)
from gate.features.unreadable import readable_changes, statuses_without_renames
from gate.git.cmd import EMPTY_TREE, GitError, git
from gate.git.logstream import Answer, CommitInfo, DiffStream, parents_of, read_commits, rev_list

_PATCH_OPTIONS = ["-r", "-p", "-M", "--full-index"]
_STATUS_OPTIONS = ["-r", "-z", "--name-status", "-M"]
_INDEX_LINE = re.compile(r"index ([0-9a-f]+)\.\.([0-9a-f]+)(?: (\d+))?$")
_REGULAR_MODES = frozenset({"100644", "100755"})
_DIFF_GIT = "diff --git "
_DEV_NULL = "/dev/null"
_HUNK_RANGES = re.compile(r"-(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_NO_NEWLINE = "\n\\ No newline at end of file"


@dataclass
class LoggedCommit:
    sha: str
    parent: str  # first parent, or the empty tree for a root commit
    time: int  # committer time, unix seconds
    author: str  # author email, lower case
    message: str
    changes: list[FileChange]
    notes: list[str] = field(default_factory=list)
    # per change, its blob ids; None where the diff names none (a pure rename, a mode change) or
    # was not scanned (a quoted path, a diff too large)
    blobs: list[BlobIds | None] = field(default_factory=list)
    unreadable: int = 0  # changed files whose objects git lacks: their lines are not counted


def iter_commits(repo: Path, revisions: list[str]) -> Iterator[LoggedCommit]:
    """Every commit of `git log <revisions>` with its first-parent diff, newest first."""
    shas = [sha for sha, _ in rev_list(repo, revisions)]
    return iter_commits_in_order(repo, shas, processes=1)


def commit_order(repo: Path, revisions: list[str]) -> list[str]:
    """The commits of `revisions`, parents before children (by time where the history allows)."""
    return git(repo, "rev-list", "--date-order", "--reverse", *revisions, "--").decode().split()


def iter_commits_in_order(
    repo: Path, shas: Sequence[str], processes: int = 2, block: int = 64
) -> Iterator[LoggedCommit]:
    """The commits `shas`, in that order, with their first-parent diffs.

    Diffing is most of git's work, so `processes` git processes share it, each taking every
    `processes`-th block of `block` commits. They start at once and run ahead of the reader by
    up to a pipe's worth each.
    """
    parents = parents_of(repo, shas)
    requests = [
        (sha, found[0] if found else None) for sha, found in zip(shas, parents, strict=True)
    ]
    blocks = [requests[start : start + block] for start in range(0, len(requests), block)]
    shares = [list(chain.from_iterable(blocks[first::processes])) for first in range(processes)]
    streams = [
        iter(DiffStream(repo, _PATCH_OPTIONS, share, MAX_PATCH_BYTES)) for share in shares if share
    ]
    infos = read_commits(repo, list(zip(shas, parents, strict=True)))
    return _in_turn(repo, [len(requests) for requests in blocks], streams, infos)


def _in_turn(
    repo: Path,
    block_sizes: list[int],
    streams: list[Iterator[Answer]],
    infos: Iterator[CommitInfo],
) -> Iterator[LoggedCommit]:
    for number, size in enumerate(block_sizes):
        read = 0
        for answer in islice(streams[number % len(streams)], size):
            info = next(infos)
            if answer.sha != info.sha:
                raise GitError("git diff-tree: answers out of step with the commits asked for")
            read += 1
            yield _parse_commit(repo, info, answer)
        if read < size:
            raise GitError("git diff-tree: fewer commits than asked for")


def _parse_commit(repo: Path, info: CommitInfo, answer: Answer) -> LoggedCommit:
    parent = info.parents[0] if info.parents else EMPTY_TREE
    commit = LoggedCommit(
        info.sha, parent, info.time, info.author.lower(), info.message.strip(), []
    )
    if answer.output is None:
        return _without_missing_objects(repo, commit)
    if answer.oversized:
        try:
            commit.changes = numstat_changes(repo, parent, info.sha)
        except GitError:
            return _without_missing_objects(repo, commit)
        commit.blobs = [None] * len(commit.changes)
        commit.notes.append(f"diff over {MAX_PATCH_BYTES // (1024 * 1024)} MiB: hunks not counted")
        return commit
    patch = answer.output.decode("utf-8", "surrogateescape").lstrip("\n")
    scanned = scan_patch(patch)
    if scanned is not None:
        commit.changes = [change for change, _ in scanned]
        commit.blobs = [blobs for _, blobs in scanned]
        return commit
    try:
        patched_files = PatchSet(patch, metadata_only=True)
    except UnidiffParseError as error:
        try:
            commit.changes = numstat_changes(repo, parent, info.sha)
        except GitError:
            return _without_missing_objects(repo, commit)
        commit.blobs = [None] * len(commit.changes)
        commit.notes.append(f"diff not parsable ({error}): hunks not counted")
        return commit
    commit.changes = [file_change(patched) for patched in patched_files]
    # no blob ids: unidiff keeps a quoted path quoted, which names no file at the parent
    commit.blobs = [None] * len(commit.changes)
    return commit


def _without_missing_objects(repo: Path, commit: LoggedCommit) -> LoggedCommit:
    """git could not diff the commit: the files it can read counted, the others named."""
    readable = readable_changes(repo, commit.parent, commit.sha)
    commit.changes, commit.notes = readable.changes, [*commit.notes, *readable.notes]
    commit.blobs = [None] * len(commit.changes)
    commit.unreadable = readable.unreadable
    return commit


# git's own patches, counted with str.count rather than unidiff's loop over every line -------


@dataclass(slots=True)
class _Hunk:
    source_start: int
    source_length: int
    target_start: int
    target_length: int
    added: int
    deleted: int


@dataclass(slots=True)
class _FileHeader:
    """What unidiff takes from a file's header lines."""

    source: str  # "a/<path>", or /dev/null for a new file
    target: str  # "b/<path>", or /dev/null for a deleted file
    source_mode: str | None = None
    target_mode: str | None = None
    blobs: tuple[str, str] | None = None
    binary: bool = False


def scan_patch(text: str) -> list[tuple[FileChange, BlobIds | None]] | None:
    """One commit's `git log -p` output as `parse_patch` reads it, and each file's blob ids.

    None when the text holds anything this scan does not know for certain (a quoted path, an
    unexpected line, a hunk whose lines disagree with its header): unidiff reads those.
    """
    if not text:
        return []
    if not text.startswith(_DIFF_GIT):
        return None
    scanned = []
    for section in text[len(_DIFF_GIT) :].split("\n" + _DIFF_GIT):
        file = _scan_file(section)
        if file is None:
            return None
        scanned.append(file)
    return scanned


def _scan_file(section: str) -> tuple[FileChange, BlobIds | None] | None:
    header_text, hunks_start, body = section.partition("\n@@ ")
    header = _file_header(header_text.split("\n"))
    hunks = _hunks(body) if hunks_start else []
    if header is None or hunks is None or (header.binary and hunks):
        return None
    return _file_change(header, hunks), _header_blob_ids(header)


def _file_header(lines: list[str]) -> _FileHeader | None:
    first = lines[0]  # "a/<old path> b/<new path>"
    if '"' in first or not first.startswith("a/") or first.count(" b/") != 1:
        return None  # a quoted or ambiguous path
    source, _, target = first.partition(" b/")
    header = _FileHeader(source, "b/" + target)
    for line in lines[1:]:
        if line and (header.binary or not _read_header_line(header, line)):
            return None
    return header


def _read_header_line(header: _FileHeader, line: str) -> bool:
    """Apply one header line as unidiff does; False for a line it would treat otherwise."""
    if line.startswith("index "):
        if found := _INDEX_LINE.match(line):
            header.blobs = (found[1], found[2])
            if mode := found[3]:  # unidiff: a mode on the index line holds for both sides
                header.source_mode = header.source_mode or mode
                header.target_mode = header.target_mode or mode
        return True
    if line.startswith("+++ "):
        target = RE_TARGET_FILENAME.match(line)
        return target is not None and target["filename"] == header.target
    if line.startswith(("--- ", "similarity index ", "dissimilarity index ", "rename ")):
        return True
    for prefix, apply in _MODE_LINES:
        if line.startswith(prefix):
            if (mode := line[len(prefix) :]).isdecimal():
                apply(header, mode)
            return True
    if line.startswith("Binary files "):
        header.binary = RE_BINARY_DIFF.match(line) is not None
        return True
    return False


def _new_file(header: _FileHeader, mode: str) -> None:
    header.source, header.target_mode = _DEV_NULL, mode


def _deleted_file(header: _FileHeader, mode: str) -> None:
    header.target, header.source_mode = _DEV_NULL, mode


def _old_mode(header: _FileHeader, mode: str) -> None:
    header.source_mode = mode


def _new_mode(header: _FileHeader, mode: str) -> None:
    header.target_mode = mode


_MODE_LINES: tuple[tuple[str, Callable[[_FileHeader, str], None]], ...] = (
    ("new file mode ", _new_file),
    ("deleted file mode ", _deleted_file),
    ("old mode ", _old_mode),
    ("new mode ", _new_mode),
)


def _hunks(body: str) -> list[_Hunk] | None:
    """The hunks of one file, from the first hunk header's text on (its `@@ ` cut off)."""
    hunks = []
    for text in body.split("\n@@ "):
        ranges = _HUNK_RANGES.match(text)
        if ranges is None:
            return None
        lines = "\n" + text[ranges.end() :].partition("\n")[2].rstrip("\n")
        hunk = _Hunk(
            int(ranges[1]),
            int(ranges[2] or 1),
            int(ranges[3]),
            int(ranges[4] or 1),
            added=lines.count("\n+"),
            deleted=lines.count("\n-"),
        )
        if not _lines_agree(hunk, lines):
            return None  # not as git writes hunks: unidiff decides
        hunks.append(hunk)
    return hunks


def _lines_agree(hunk: _Hunk, lines: str) -> bool:
    """Whether every line is context, added, deleted or git's no-newline marker, as many as the
    hunk's header says (`lines`: each line after a newline)."""
    markers = lines.count(_NO_NEWLINE) if "\\" in lines else 0
    if markers != lines.count("\n\\"):
        return False
    context = lines.count("\n ")
    body_lines = lines.count("\n") if len(lines) > 1 else 0
    return (
        body_lines == context + hunk.added + hunk.deleted + markers
        and hunk.source_length == context + hunk.deleted
        and hunk.target_length == context + hunk.added
    )


def _file_change(header: _FileHeader, hunks: list[_Hunk]) -> FileChange:
    """The FileChange `file_change` makes of the same file parsed by unidiff."""
    renamed = _DEV_NULL not in (header.source, header.target) and (
        header.source[2:] != header.target[2:]
    )
    only = hunks[0] if len(hunks) == 1 else None
    if header.source == _DEV_NULL or (only and only.source_start == only.source_length == 0):
        status = "added"
    elif header.target == _DEV_NULL or (only and only.target_start == only.target_length == 0):
        status = "deleted"
    else:
        status = "renamed" if renamed else "modified"
    shown = header.target if header.source == _DEV_NULL or renamed else header.source
    return FileChange(
        path=shown[2:] if RE_PATCH_FILE_PREFIX.match(shown) else shown,
        added=sum(hunk.added for hunk in hunks),
        deleted=sum(hunk.deleted for hunk in hunks),
        hunks=len(hunks),
        binary=header.binary,
        status=status,
        old_path=header.source[2:] if status == "renamed" else None,
    )


def _header_blob_ids(header: _FileHeader) -> BlobIds | None:
    if header.blobs is None:
        return None
    modes = {mode for mode in (header.source_mode, header.target_mode) if mode}
    return BlobIds(*header.blobs, modes <= _REGULAR_MODES)


def iter_records(repo: Path, revisions: list[str], rules: MessageRules) -> Iterator[CommitRecord]:
    """The history index's view of `git log <revisions>`: paths and renames, no diffs (fast)."""
    return records_of(repo, rev_list(repo, revisions), rules)


def records_of(
    repo: Path, commits: Sequence[tuple[str, tuple[str, ...]]], rules: MessageRules
) -> Iterator[CommitRecord]:
    """The records of `commits` ((sha, parents) as `rev_list` gives them), in that order."""
    if not commits:
        return
    requests = [(sha, parents[0] if parents else None) for sha, parents in commits]
    answers = DiffStream(repo, _STATUS_OPTIONS, requests, zero=True)
    for info, answer in zip(read_commits(repo, commits), answers, strict=True):
        statuses = answer.output
        if statuses is None:  # git cannot read an object rename detection needs
            statuses = statuses_without_renames(
                repo, info.parents[0] if info.parents else None, info.sha
            )
        yield _record(info, statuses, rules)


def record_fingerprint(rules: MessageRules) -> str:
    """What a stored record depends on besides its commit: a stored index under another is stale.

    The rules' patterns, the diff options, the record's fields and the code that derives them
    (its bytecode, so an edit to that code needs no version bump to invalidate stored records).
    """
    functions = (_record, MessageRules.is_fix, MessageRules.reverted_sha, without_merge_lines)
    text = repr(
        (
            rules.fix.pattern,
            REVERT_PATTERN.pattern,
            PULL_REQUEST_LINES.pattern,
            _STATUS_OPTIONS,
            [item.name for item in fields(CommitRecord)],
            [_code_key(function.__code__) for function in functions],
        )
    )
    return hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _code_key(code: CodeType) -> tuple[object, ...]:
    """A code object's instructions, constants and names; nested code (a comprehension) by its
    own key, as a code object's repr holds its memory address and would differ in each process."""
    consts = tuple(_code_key(c) if isinstance(c, CodeType) else c for c in code.co_consts)
    return (code.co_code, consts, code.co_names)


def _record(info: CommitInfo, statuses: bytes, rules: MessageRules) -> CommitRecord:
    fields = statuses.decode("utf-8", "surrogateescape").split("\0")
    paths: list[str] = []
    renames: list[tuple[str, str]] = []
    index = 0
    while index < len(fields) and fields[index]:
        code = fields[index].strip()[:1]
        if code in ("R", "C"):
            old, new = fields[index + 1], fields[index + 2]
            paths.append(new)
            if code == "R":
                renames.append((new, old))
            index += 3
        else:
            paths.append(fields[index + 1])
            index += 2
    return CommitRecord(
        sha=info.sha,
        time=info.time,
        author=info.author.lower(),
        is_fix=rules.is_fix(info.message.strip()),
        reverts=rules.reverted_sha(info.message),
        paths=tuple(paths),
        renamed_from=tuple(renames),
    )
