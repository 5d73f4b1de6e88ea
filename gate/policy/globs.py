"""`always_hold:` and `never_hold:` globs: checked as CODEOWNERS patterns, matched against paths."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Annotated

from pydantic import AfterValidator

from gate.features.codeowners import PathPattern, PatternError


def _valid_glob(glob: str) -> str:
    try:
        _pattern(glob)
    except PatternError as error:
        raise ValueError(f"{glob!r}: {error}") from None
    return glob


Glob = Annotated[str, AfterValidator(_valid_glob)]


def matches_any(globs: Sequence[str], paths: Sequence[str]) -> list[str]:
    """The paths (in their order) that match at least one glob; globs as in CODEOWNERS."""
    patterns = [_pattern(glob) for glob in globs]
    return [path for path in paths if any(pattern.matches(path) for pattern in patterns)]


@lru_cache(maxsize=1024)
def _pattern(glob: str) -> PathPattern:
    return PathPattern.compile(glob)
