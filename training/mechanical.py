"""Huge and mechanical commits (mass edits, vendoring, generated files): no fixes, never blamed."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

# Over either cap a commit is a mass edit (a reformatting, a move, an import of a code base):
# whatever it touched, it did not write a bug that one later fix could point at. The caps are
# far above a real change: in the Apache projects measured, under 1% of commits pass them.
MAX_FILES = 100
MAX_LINES = 10_000  # added + deleted

# what nobody runs: documentation, images, fonts. Configuration counts as source (a config
# change can break a service as surely as code).
DOC_SUFFIXES = frozenset(
    {
        ".md",
        ".markdown",
        ".rst",
        ".txt",
        ".adoc",
        ".asciidoc",
        ".textile",
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".svg",
        ".ico",
        ".pdf",
        ".woff",
        ".woff2",
        ".ttf",
        ".eot",
    }
)
DOC_NAMES = frozenset(
    {"license", "licence", "notice", "changes", "changelog", "authors", "readme", "contributors"}
)
VENDORED = re.compile(
    r"(?:^|/)(?:vendor|vendored|third[_-]?party|node_modules|bower_components|external|"
    r"generated|gen-src|__generated__)/",
    re.IGNORECASE,
)
GENERATED = re.compile(
    r"(?:\.min\.(?:js|css)|\.map|\.pb\.go|_pb2\.pyi?|\.generated\.\w+|\.g\.dart|"
    r"(?:^|/)(?:package-lock\.json|yarn\.lock|pnpm-lock\.yaml|poetry\.lock|Cargo\.lock|go\.sum))$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Size:
    """What a commit changed against its first parent."""

    paths: tuple[str, ...]
    lines: int | None  # added + deleted; None when a blob could not be read


def is_source(path: str) -> bool:
    """Written by hand and run: not documentation or media, not vendored, not generated."""
    if VENDORED.search(path) or GENERATED.search(path):
        return False
    name = PurePosixPath(path).name.lower()
    return name not in DOC_NAMES and PurePosixPath(name).suffix not in DOC_SUFFIXES


def mechanical_reason(
    size: Size, max_files: int = MAX_FILES, max_lines: int = MAX_LINES
) -> str | None:
    """Why a commit is mechanical ("huge", "no-source"), or None for an ordinary change."""
    if len(size.paths) > max_files or (size.lines is not None and size.lines > max_lines):
        return "huge"
    if size.paths and not any(is_source(path) for path in size.paths):
        return "no-source"  # documentation, vendored or generated files only
    return None


def commit_sizes(repo: Path, shas: Iterable[str]) -> dict[str, Size]:
    """Each commit's paths and changed lines against its first parent, in few git processes;
    a commit whose blobs are missing (a partial snapshot) gets its paths and lines None."""
    left = list(dict.fromkeys(shas))
    sizes: dict[str, Size] = {}
    while left:
        found, complete = _diff_tree(repo, left, "--numstat")
        sizes.update(found)
        left = [sha for sha in left if sha not in sizes]
        if complete or not left:
            break
        # git stopped at the first commit it could not read: that one alone, then the rest
        broken, left = left[0], left[1:]
        names, _ = _diff_tree(repo, [broken], "--name-only")  # reads no blob
        sizes[broken] = Size(names[broken].paths if broken in names else (), None)
    return sizes


def _diff_tree(repo: Path, shas: list[str], mode: str) -> tuple[dict[str, Size], bool]:
    """Sizes of the commits git finished, and whether it finished them all."""
    done = subprocess.run(
        ["git", "-C", str(repo), *_DIFF_TREE, mode],
        input="".join(f"{sha}\n" for sha in shas).encode(),
        capture_output=True,
        check=False,
    )
    complete = done.returncode == 0
    sizes: dict[str, Size] = {}
    current: str | None = None
    paths: list[str] = []
    lines: int | None = 0
    for line in done.stdout.decode("utf-8", "surrogateescape").splitlines():
        if _SHA.fullmatch(line):
            if current is not None:
                sizes[current] = Size(tuple(paths), lines)
            current, paths, lines = line, [], 0
        elif mode == "--name-only":
            paths.append(line)
        elif line:
            added, _, rest = line.partition("\t")
            deleted, _, path = rest.partition("\t")
            paths.append(path)
            if lines is not None and added.isdigit() and deleted.isdigit():
                lines += int(added) + int(deleted)
    if current is not None and complete:
        sizes[current] = Size(tuple(paths), lines)  # else git stopped inside it
    return sizes, complete


_SHA = re.compile(r"[0-9a-f]{40}")
# one line per commit read from stdin (--always: even an empty diff), against the first parent
_DIFF_TREE = ("-c", "core.quotepath=off", "diff-tree", "--stdin", "--always", "-r", "--root")
_DIFF_TREE += ("-m", "--first-parent", "--no-renames")
