"""Stream commits with their diffs out of one `git log`, in bounded memory."""

from __future__ import annotations

import fcntl
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import IO

from unidiff import PatchSet
from unidiff.constants import RE_BINARY_DIFF, RE_PATCH_FILE_PREFIX, RE_TARGET_FILENAME
from unidiff.errors import UnidiffParseError

from gate.features.blobs import BlobIds
from gate.features.diff import MAX_PATCH_BYTES, FileChange, file_change, numstat_changes
from gate.features.history import CommitRecord, MessageRules
from gate.git.cmd import EMPTY_TREE, GitError, git

_START, _FIELD, _END = "\x1e", "\x1f", "\x1d"
_FORMAT = f"{_START}%H{_FIELD}%P{_FIELD}%ct{_FIELD}%ae{_FIELD}%B{_END}"
_PATCH_OPTIONS = ["--no-ext-diff", "-p", "--full-index"]
_PIPE_BYTES = 1 << 20  # lets git run this far ahead of a reader busy with the previous commits
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


def iter_commits(repo: Path, revisions: list[str]) -> Iterator[LoggedCommit]:
    """Every commit of `git log <revisions>` with its first-parent diff, newest first."""
    for raw, oversized in _git_log(repo, _PATCH_OPTIONS, revisions):
        yield _parse_commit(repo, raw, oversized)


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
    blocks = [shas[start : start + block] for start in range(0, len(shas), block)]
    shares = [list(chain.from_iterable(blocks[first::processes])) for first in range(processes)]
    options = [*_PATCH_OPTIONS, "--no-walk=unsorted", "--stdin"]
    # an empty share would make git log show HEAD; the shares after the blocks run out are empty
    logs = [_git_log(repo, options, [], stdin=share) for share in shares if share]
    return _in_turn(repo, [len(commits) for commits in blocks], logs)


def _in_turn(
    repo: Path, block_sizes: list[int], logs: list[Iterator[tuple[bytes, bool]]]
) -> Iterator[LoggedCommit]:
    for number, size in enumerate(block_sizes):
        read = 0
        for raw, oversized in islice(logs[number % len(logs)], size):
            read += 1
            yield _parse_commit(repo, raw, oversized)
        if read < size:
            raise GitError("git log: fewer commits than asked for")
    for log in logs:
        for _ in log:  # every process must end cleanly: a failure raises GitError here
            raise GitError("git log: more commits than asked for")


def _git_log(
    repo: Path, options: list[str], revisions: list[str], stdin: Sequence[str] = ()
) -> Iterator[tuple[bytes, bool]]:
    """One `git log` streamed commit by commit: (raw bytes, whether its diff was cut off).

    git starts at once, not on the first read, so it can work while the caller does something
    else. `stdin`: revisions for `--stdin`. A commit's diff beyond MAX_PATCH_BYTES is dropped as
    it streams, so memory stays bounded however large a generated commit is; the caller counts
    it with --numstat instead.
    """
    command = [
        "git",
        "-C",
        str(repo),
        "-c",
        "core.quotepath=off",
        "log",
        "--no-color",
        "-M",
        "--diff-merges=first-parent",
        *options,
        f"--format={_FORMAT}",
        *revisions,
        "--",
    ]
    # stderr goes to a file: warnings (one per large commit) must not fill a pipe nobody reads.
    # _logged owns it and the process from here, and closes both.
    errors = tempfile.TemporaryFile()  # noqa: SIM115
    with _revisions_file(stdin) as revisions_in:
        process = subprocess.Popen(
            command, stdin=revisions_in, stdout=subprocess.PIPE, stderr=errors
        )
    assert process.stdout is not None
    _widen_pipe(process.stdout)
    return _logged(process, errors)


def _logged(process: subprocess.Popen[bytes], errors: IO[bytes]) -> Iterator[tuple[bytes, bool]]:
    with process, errors:
        assert process.stdout is not None
        pending = bytearray()
        scanned = 1  # where the search for the next commit's start resumes
        oversized = False
        while chunk := process.stdout.read(1 << 16):
            pending += chunk
            # search only the new bytes: rescanning a big diff on every chunk is quadratic
            while (start := _next_commit(pending, scanned)) >= 0:
                yield bytes(pending[:start]), oversized
                del pending[:start]
                scanned, oversized = 1, False
            scanned = max(len(pending), 1)
            if len(pending) > MAX_PATCH_BYTES:
                header_end = pending.find(b"\x1d")
                if header_end >= 0:
                    # the last byte stays: the next commit's marker is known by the byte before it
                    del pending[header_end + 1 : -1]
                    scanned, oversized = len(pending), True
        if bytes(pending).strip(b"\0\n"):
            yield bytes(pending), oversized
        if process.wait() != 0:
            errors.seek(0)
            message = errors.read().decode("utf-8", "replace").strip().splitlines()
            raise GitError(f"git log: {message[-1] if message else 'failed'}")


@contextmanager
def _revisions_file(revisions: Sequence[str]) -> Iterator[IO[bytes] | int]:
    """A file of revisions, one a line, for git's standard input (none: /dev/null)."""
    if not revisions:
        yield subprocess.DEVNULL
        return
    with tempfile.TemporaryFile() as file:
        file.write("".join(f"{revision}\n" for revision in revisions).encode())
        file.seek(0)
        yield file


def _widen_pipe(pipe: IO[bytes]) -> None:
    # past /proc/sys/fs/pipe-max-size this fails, and the default size still works
    if sys.platform == "linux":
        with suppress(OSError):
            fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)


def _next_commit(pending: bytearray, start: int) -> int:
    """Where the next commit begins: its marker at the start of a line (a file's content can
    hold the marker byte too, but a diff line never starts with it)."""
    while (found := pending.find(b"\x1e", start)) >= 0:
        if pending[found - 1] in b"\n\0":
            return found
        start = found + 1
    return -1


def _parse_commit(repo: Path, raw: bytes, oversized: bool) -> LoggedCommit:
    text = raw.decode("utf-8", "surrogateescape").lstrip(_START)
    header, _, patch = text.partition(_END)
    sha, parents, time, author, message = header.split(_FIELD, 4)
    parent = parents.split()[0] if parents.strip() else EMPTY_TREE
    commit = LoggedCommit(sha, parent, int(time), author.lower(), message.strip(), [])
    if oversized:
        commit.changes = numstat_changes(repo, parent, sha)
        commit.blobs = [None] * len(commit.changes)
        commit.notes.append(f"diff over {MAX_PATCH_BYTES // (1024 * 1024)} MiB: hunks not counted")
        return commit
    scanned = scan_patch(patch.lstrip("\n"))
    if scanned is not None:
        commit.changes = [change for change, _ in scanned]
        commit.blobs = [blobs for _, blobs in scanned]
        return commit
    try:
        patched_files = PatchSet(patch.lstrip("\n"), metadata_only=True)
    except UnidiffParseError as error:
        commit.changes = numstat_changes(repo, parent, sha)
        commit.blobs = [None] * len(commit.changes)
        commit.notes.append(f"diff not parsable ({error}): hunks not counted")
        return commit
    commit.changes = [file_change(patched) for patched in patched_files]
    # no blob ids: unidiff keeps a quoted path quoted, which names no file at the parent
    commit.blobs = [None] * len(commit.changes)
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
    for raw, _ in _git_log(repo, ["-z", "--name-status"], revisions):
        yield _record(raw, rules)


def _record(raw: bytes, rules: MessageRules) -> CommitRecord:
    text = raw.decode("utf-8", "surrogateescape").lstrip(_START)
    header, _, statuses = text.partition(_END)
    sha, _parents, time, author, message = header.split(_FIELD, 4)
    fields = statuses.lstrip("\n\0").split("\0")
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
        sha=sha,
        time=int(time),
        author=author.lower(),
        is_fix=rules.is_fix(message.strip()),
        reverts=rules.reverted_sha(message),
        paths=tuple(paths),
        renamed_from=tuple(renames),
    )
