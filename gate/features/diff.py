"""Diff features (Kamei's size and diffusion metrics, hunks, file kinds) from `git diff`."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from unidiff import PatchedFile, PatchSet
from unidiff.errors import UnidiffParseError

from gate.features import FeatureVector
from gate.features.kinds import KINDS, file_kind
from gate.git.cmd import GitError, OutputTooLarge, git
from gate.git.objects import ObjectReader

# A diff beyond this is counted with --numstat instead of parsed hunk by hunk, so a
# 200,000-line generated file costs bounded memory and is still scored.
MAX_PATCH_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class FileChange:
    path: str
    added: int
    deleted: int
    hunks: int | None
    binary: bool = False
    status: str = "modified"  # added | deleted | renamed | modified
    old_path: str | None = None

    @property
    def churn(self) -> int:
        return self.added + self.deleted


@dataclass
class Diff:
    changes: list[FileChange]
    notes: list[str]
    # the unified diff, for coverage of added lines; None when it was too large to keep
    patch: str | None


def read_diff(repo: Path, base: str, head: str, objects: ObjectReader | None = None) -> Diff:
    """The files changed from base to head (renames detected) and notes on what was approximated.

    `objects`, a kept reader of `repo`, asks its kept diff process instead of starting git.
    """
    raw = objects.patch(base, head, MAX_PATCH_BYTES) if objects is not None else None
    try:
        if raw is None:
            raw = git(
                repo,
                "diff",
                "--no-color",
                "--no-ext-diff",
                "-M",
                "--full-index",
                base,
                head,
                max_bytes=MAX_PATCH_BYTES,
            )
        patch = raw.decode("utf-8", "surrogateescape")
        try:
            return Diff(parse_patch(patch), [], patch)
        except UnidiffParseError as error:
            note = f"diff not parsable ({error}): hunks not counted"
            return Diff(numstat_changes(repo, base, head), [note], None)
    except OutputTooLarge:
        note = f"diff over {MAX_PATCH_BYTES // (1024 * 1024)} MiB: hunks not counted"
        try:
            return Diff(numstat_changes(repo, base, head), [note], None)
        except GitError:
            return _readable(repo, base, head)
    except GitError:
        return _readable(repo, base, head)


def _readable(repo: Path, base: str, head: str) -> Diff:
    """git lacks an object (a partial clone's blob): what it can read, counted as mining does."""
    from gate.features.unreadable import readable_changes  # it builds on this module's parsers

    readable = readable_changes(repo, base, head)
    return Diff(readable.changes, readable.notes, None)


def changed_files(repo: Path, base: str, head: str) -> tuple[list[FileChange], list[str]]:
    diff = read_diff(repo, base, head)
    return diff.changes, diff.notes


def parse_patch(text: str) -> list[FileChange]:
    # metadata only: hunks are counted, not kept as Line objects (same counts, several times faster)
    return [file_change(patched) for patched in PatchSet(text, metadata_only=True)]


def file_change(patched: PatchedFile) -> FileChange:
    if patched.is_added_file:
        status = "added"
    elif patched.is_removed_file:
        status = "deleted"
    elif patched.is_rename:
        status = "renamed"
    else:
        status = "modified"
    return FileChange(
        path=patched.path,
        added=patched.added,
        deleted=patched.removed,
        hunks=len(patched),
        binary=patched.is_binary_file,
        status=status,
        old_path=_strip_side(patched.source_file) if status == "renamed" else None,
    )


def _strip_side(path: str) -> str:
    return path[2:] if path.startswith(("a/", "b/")) else path


def numstat_changes(repo: Path, base: str, head: str) -> list[FileChange]:
    output = git(repo, "diff", "--numstat", "-z", "-M", "--no-ext-diff", base, head)
    statuses = git(repo, "diff", "--name-status", "-z", "-M", "--no-ext-diff", base, head)
    status_of = _parse_name_status(statuses.decode("utf-8", "surrogateescape"))
    return list(parse_numstat(output.decode("utf-8", "surrogateescape"), status_of))


def parse_numstat(output: str, status_of: dict[str, str] | None = None) -> Iterable[FileChange]:
    # -z: "added\tdeleted\tpath\0", or for a rename "added\tdeleted\t\0old\0new\0"
    fields = output.split("\0")
    index = 0
    while index < len(fields) and fields[index]:
        added, deleted, path = fields[index].split("\t", 2)
        index += 1
        old_path = None
        if not path:
            old_path, path = fields[index], fields[index + 1]
            index += 2
        binary = added == "-"
        yield FileChange(
            path=path,
            added=0 if binary else int(added),
            deleted=0 if binary else int(deleted),
            hunks=None,
            binary=binary,
            status="renamed" if old_path else (status_of or {}).get(path, "modified"),
            old_path=old_path,
        )


def _parse_name_status(output: str) -> dict[str, str]:
    fields = output.split("\0")
    statuses: dict[str, str] = {}
    index = 0
    while index < len(fields) and fields[index]:
        code = fields[index][0]
        if code in "RC":  # a rename or copy names the old and the new path
            statuses[fields[index + 2]] = "renamed" if code == "R" else "added"
            index += 3
            continue
        statuses[fields[index + 1]] = {"A": "added", "D": "deleted"}.get(code, "modified")
        index += 2
    return statuses


def subsystem(path: str) -> str:
    """The top-level directory of a path; files at the root belong to `root`."""
    head, separator, _ = path.partition("/")
    return head if separator else "root"


# Both are pure functions of a path, and a repository's paths repeat commit after commit (mining).
_kind_of = functools.lru_cache(maxsize=1 << 16)(file_kind)


@functools.lru_cache(maxsize=1 << 16)
def _parent_dir(path: str) -> str:
    return str(PurePosixPath(path).parent)


def diff_features(changes: list[FileChange]) -> FeatureVector:
    churn = [change.churn for change in changes]
    hunks = [change.hunks for change in changes]
    kinds = [_kind_of(change.path, change.binary) for change in changes]
    churn_by_kind: dict[str, int] = {}
    for change, kind in zip(changes, kinds, strict=True):
        churn_by_kind[kind] = churn_by_kind.get(kind, 0) + change.churn
    source_churn = churn_by_kind.get("source", 0)
    values: dict[str, float | None] = {
        "la": float(sum(change.added for change in changes)),
        "ld": float(sum(change.deleted for change in changes)),
        "nf": float(len(changes)),
        "nd": float(len({_parent_dir(change.path) for change in changes})),
        "ns": float(len({subsystem(change.path) for change in changes})),
        "entropy": change_entropy(churn),
        "hunks": None if None in hunks else float(sum(h or 0 for h in hunks)),
        "largest_file_churn": float(max(churn, default=0)),
        "test_churn_ratio": churn_by_kind.get("test", 0) / source_churn if source_churn else None,
        "files_deleted": float(sum(change.status == "deleted" for change in changes)),
        "files_renamed": float(sum(change.status == "renamed" for change in changes)),
    }
    for kind in KINDS:
        if kind != "other":
            values[f"files_{kind}"] = float(kinds.count(kind))
    return FeatureVector(values=values)


def change_entropy(churn_per_file: list[int]) -> float:
    """Shannon entropy in bits of the change's distribution over files (Kamei, unnormalised)."""
    total = sum(churn_per_file)
    if total == 0:
        return 0.0
    shares = (lines / total for lines in churn_per_file if lines)
    return -sum(share * math.log2(share) for share in shares) + 0.0
