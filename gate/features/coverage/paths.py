"""Report paths as POSIX: slashes, '.' and '..' folded, prefixes stripped."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence

_DRIVE = re.compile(r"[A-Za-z]:/")


def slashes(path: str) -> str:
    return path.strip().replace("\\", "/")


def is_absolute(path: str) -> bool:
    return path.startswith("/") or bool(_DRIVE.match(path))


def clean(path: str) -> str:
    """A report path as POSIX: forward slashes, no '.', '..' folded, one leading '/' at most."""
    path = slashes(path)
    if not path:
        return ""
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return "" if cleaned == "." else cleaned


def path_parts(path: str) -> tuple[str, ...]:
    return tuple(part for part in path.split("/") if part)


def strip_prefix(path: str, prefixes: Sequence[tuple[bool, tuple[str, ...]]]) -> str:
    absolute, parts = path.startswith("/"), path_parts(path)
    for prefix_absolute, prefix in prefixes:
        if prefix_absolute == absolute and parts[: len(prefix)] == prefix:
            return "/".join(parts[len(prefix) :])
    return path
