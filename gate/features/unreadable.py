"""A change's files when git lacks some of their objects (a snapshot or partial clone without
its largest blobs): the readable files counted as usual, the others named, none guessed."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from gate.features.diff import MAX_PATCH_BYTES, FileChange, parse_numstat, parse_patch
from gate.git.cmd import EMPTY_TREE, GitError, OutputTooLarge, git

_GITLINK = "160000"  # a submodule's commit: never in this repository's objects
_NULL = "0" * 40
_STATUS = {"A": "added", "D": "deleted"}
_PATHS_PER_CALL = 2_000  # keeps each command line well under the system's limit


@dataclass
class Readable:
    changes: list[FileChange]
    unreadable: int  # files whose content git cannot read
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Entry:
    path: str
    status: str  # the --raw letter
    blobs: tuple[str, ...]  # the regular files' and symlinks' objects it needs


def readable_changes(repo: Path, base: str, head: str) -> Readable:
    """The files changed from `base` to `head` without rename detection (it reads content).

    Listing the changed files needs only trees; a file whose blob on either side git lacks
    counts with no lines, and the note says how many such files there are.
    """
    entries = _entries(repo, base, head)
    missing = _missing(repo, {blob for entry in entries for blob in entry.blobs})
    readable = list(
        dict.fromkeys(entry.path for entry in entries if not missing.intersection(entry.blobs))
    )
    counted: dict[str, list[FileChange]] = {}
    for change in _counted(repo, base, head, readable):
        counted.setdefault(change.path, []).append(change)
    changes: list[FileChange] = []
    unreadable = 0
    for entry in entries:
        if entry.path in counted:
            changes += counted.pop(entry.path)  # a type change: two changes, one path
        elif missing.intersection(entry.blobs):
            status = _STATUS.get(entry.status, "modified")
            changes.append(FileChange(entry.path, 0, 0, hunks=None, status=status))
            unreadable += 1
    changes += [change for rest in counted.values() for change in rest]
    notes = []
    if unreadable:
        notes.append(
            f"{unreadable} changed file(s) unreadable (git lacks their objects): "
            "their lines are not counted"
        )
    return Readable(changes, unreadable, notes)


def statuses_without_renames(repo: Path, parent: str | None, sha: str) -> bytes:
    """`git diff-tree -r -z --name-status` of a commit against its first parent, renames
    not detected (detecting them reads content git may lack)."""
    return git(
        repo, "diff-tree", "-r", "-z", "--name-status", "--no-renames", parent or EMPTY_TREE, sha
    )


def _entries(repo: Path, base: str, head: str) -> list[_Entry]:
    raw = git(repo, "diff-tree", "-r", "-z", "--raw", "--no-renames", "--full-index", base, head)
    fields = raw.decode("utf-8", "surrogateescape").split("\0")
    entries = []
    for at in range(0, len(fields) - 1, 2):
        if not fields[at].startswith(":"):
            break
        old_mode, new_mode, old_blob, new_blob, status = fields[at][1:].split(" ")
        blobs = tuple(
            blob
            for mode, blob in ((old_mode, old_blob), (new_mode, new_blob))
            if blob != _NULL and mode != _GITLINK
        )
        entries.append(_Entry(fields[at + 1], status[:1], blobs))
    return entries


def _missing(repo: Path, blobs: set[str]) -> set[str]:
    if not blobs:
        return set()
    done = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "--batch-check"],
        input="".join(f"{blob}\n" for blob in sorted(blobs)).encode(),
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise GitError(f"git cat-file: {done.stderr.decode('utf-8', 'replace').strip()}")
    answers = done.stdout.decode("ascii", "replace").splitlines()
    return {line.split()[0] for line in answers if line.endswith(" missing")}


def _counted(repo: Path, base: str, head: str, paths: list[str]) -> list[FileChange]:
    """The readable files' changes, counted as the whole diff would count them."""
    changes: list[FileChange] = []
    for start in range(0, len(paths), _PATHS_PER_CALL):
        chosen = paths[start : start + _PATHS_PER_CALL]
        diff = ["diff-tree", "-r", "--no-renames", "--no-ext-diff", "--full-index"]
        try:
            patch = _literal(repo, [*diff, "-p", base, head, "--", *chosen], MAX_PATCH_BYTES)
            changes += parse_patch(patch.decode("utf-8", "surrogateescape"))
        except OutputTooLarge:
            numstat = _literal(repo, [*diff, "--numstat", "-z", base, head, "--", *chosen])
            changes += parse_numstat(numstat.decode("utf-8", "surrogateescape"))
    return changes


def _literal(repo: Path, args: list[str], max_bytes: int | None = None) -> bytes:
    # the paths are file names, never patterns
    return git(repo, "--literal-pathspecs", *args, max_bytes=max_bytes)
