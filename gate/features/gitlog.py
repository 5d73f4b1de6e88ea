"""Stream commits with their diffs out of one `git log`, in bounded memory."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from unidiff.errors import UnidiffParseError

from gate.features.diff import MAX_PATCH_BYTES, FileChange, numstat_changes, parse_patch
from gate.features.history import CommitRecord, MessageRules
from gate.gitcmd import EMPTY_TREE, GitError

_START, _FIELD, _END = "\x1e", "\x1f", "\x1d"
_FORMAT = f"{_START}%H{_FIELD}%P{_FIELD}%ct{_FIELD}%ae{_FIELD}%B{_END}"


@dataclass
class LoggedCommit:
    sha: str
    parent: str  # first parent, or the empty tree for a root commit
    time: int  # committer time, unix seconds
    author: str  # author email, lower case
    message: str
    changes: list[FileChange]
    notes: list[str] = field(default_factory=list)


def iter_commits(repo: Path, revisions: list[str]) -> Iterator[LoggedCommit]:
    """Every commit of `git log <revisions>` with its first-parent diff, newest first."""
    for raw, oversized in _git_log(repo, ["--no-ext-diff", "-p"], revisions):
        yield _parse_commit(repo, raw, oversized)


def _git_log(repo: Path, options: list[str], revisions: list[str]) -> Iterator[tuple[bytes, bool]]:
    """One `git log` streamed commit by commit: (raw bytes, whether its diff was cut off).

    A commit's diff beyond MAX_PATCH_BYTES is dropped as it streams, so memory stays bounded
    however large a generated commit is; the caller counts it with --numstat instead.
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
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None
        pending = bytearray()
        scanned = 1  # where the search for the next commit's start resumes
        oversized = False
        while chunk := process.stdout.read(1 << 16):
            pending += chunk
            # search only the new bytes: rescanning a big diff on every chunk is quadratic
            while (start := pending.find(b"\x1e", scanned)) >= 0:
                yield bytes(pending[:start]), oversized
                del pending[:start]
                scanned, oversized = 1, False
            scanned = max(len(pending), 1)
            if len(pending) > MAX_PATCH_BYTES:
                header_end = pending.find(b"\x1d")
                if header_end >= 0:
                    del pending[header_end + 1 :]
                    scanned, oversized = len(pending), True
        if bytes(pending).strip(b"\0\n"):
            yield bytes(pending), oversized
        stderr = process.stderr.read()
        if process.wait() != 0:
            message = stderr.decode("utf-8", "replace").strip().splitlines()
            raise GitError(f"git log: {message[-1] if message else 'failed'}")


def _parse_commit(repo: Path, raw: bytes, oversized: bool) -> LoggedCommit:
    text = raw.decode("utf-8", "surrogateescape").lstrip(_START)
    header, _, patch = text.partition(_END)
    sha, parents, time, author, message = header.split(_FIELD, 4)
    parent = parents.split()[0] if parents.strip() else EMPTY_TREE
    commit = LoggedCommit(sha, parent, int(time), author.lower(), message.strip(), [])
    if oversized:
        commit.changes = numstat_changes(repo, parent, sha)
        commit.notes.append(f"diff over {MAX_PATCH_BYTES // (1024 * 1024)} MiB: hunks not counted")
        return commit
    try:
        commit.changes = parse_patch(patch.lstrip("\n"))
    except UnidiffParseError as error:
        commit.changes = numstat_changes(repo, parent, sha)
        commit.notes.append(f"diff not parsable ({error}): hunks not counted")
    return commit


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
