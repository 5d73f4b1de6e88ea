"""Diff features (Kamei's size and diffusion metrics, plus hunks) from the real `git diff`."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from unidiff import PatchSet
from unidiff.errors import UnidiffParseError

from gate.features import FeatureVector
from gate.gitcmd import OutputTooLarge, git

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


def changed_files(repo: Path, base: str, head: str) -> tuple[list[FileChange], list[str]]:
    """The files changed from base to head (renames detected) and notes on what was approximated."""
    try:
        patch = git(
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
    except OutputTooLarge:
        note = f"diff over {MAX_PATCH_BYTES // (1024 * 1024)} MiB: hunks not counted"
        return numstat_changes(repo, base, head), [note]
    try:
        return parse_patch(patch.decode("utf-8", "surrogateescape")), []
    except UnidiffParseError as error:
        return numstat_changes(repo, base, head), [
            f"diff not parsable ({error}): hunks not counted"
        ]


def parse_patch(text: str) -> list[FileChange]:
    changes = []
    for patched in PatchSet(text):
        changes.append(
            FileChange(
                path=patched.path,
                added=patched.added,
                deleted=patched.removed,
                hunks=len(patched),
                binary=patched.is_binary_file,
            )
        )
    return changes


def numstat_changes(repo: Path, base: str, head: str) -> list[FileChange]:
    output = git(repo, "diff", "--numstat", "-z", "-M", "--no-ext-diff", base, head)
    return list(_parse_numstat(output.decode("utf-8", "surrogateescape")))


def _parse_numstat(output: str) -> Iterable[FileChange]:
    # -z: "added\tdeleted\tpath\0", or for a rename "added\tdeleted\t\0old\0new\0"
    fields = output.split("\0")
    index = 0
    while index < len(fields) and fields[index]:
        added, deleted, path = fields[index].split("\t", 2)
        index += 1
        if not path:
            path = fields[index + 1]
            index += 2
        binary = added == "-"
        yield FileChange(
            path, 0 if binary else int(added), 0 if binary else int(deleted), None, binary
        )


def diff_features(changes: list[FileChange]) -> FeatureVector:
    paths = [PurePosixPath(change.path) for change in changes]
    churn = [change.added + change.deleted for change in changes]
    hunks = [change.hunks for change in changes]
    return FeatureVector(
        values={
            "la": float(sum(change.added for change in changes)),
            "ld": float(sum(change.deleted for change in changes)),
            "nf": float(len(changes)),
            "nd": float(len({str(path.parent) for path in paths})),
            "ns": float(len({path.parts[0] if len(path.parts) > 1 else "root" for path in paths})),
            "entropy": change_entropy(churn),
            "hunks": None if None in hunks else float(sum(h or 0 for h in hunks)),
        }
    )


def change_entropy(churn_per_file: list[int]) -> float:
    """Shannon entropy in bits of the change's distribution over files (Kamei, unnormalised)."""
    total = sum(churn_per_file)
    if total == 0:
        return 0.0
    shares = (lines / total for lines in churn_per_file if lines)
    return -sum(share * math.log2(share) for share in shares) + 0.0
