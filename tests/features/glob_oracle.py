"""The regex translation of CODEOWNERS globs riskgate used before its linear matcher: the oracle.

Backtracking regexes take exponential time on some patterns, so tests feed it modest sizes only.
"""

from __future__ import annotations

import re

from gate.features.pathglob import compile_glob


def reference_matches(pattern: str, path: str) -> bool:
    compile_glob(pattern)  # the same PatternError for the same unsupported patterns
    return re.fullmatch(_pattern_regex(pattern), path.lstrip("/")) is not None


def _pattern_regex(pattern: str) -> str:
    segments = pattern.split("/")
    if segments[0] == "":
        segments = segments[1:]  # a leading slash anchors to the root
    elif len(segments) == 1 or (len(segments) == 2 and segments[1] == ""):
        segments = ["**", *segments]  # no slash but a trailing one: matches at any depth
    if len(segments) > 1 and segments[-1] == "":
        segments[-1] = "**"  # a trailing slash: everything below the directory
    segments = _collapse_double_stars(segments)
    if segments in ([], [""]):
        return r"(?!)"  # "/" matches nothing
    return _segments_regex(segments)


def _collapse_double_stars(segments: list[str]) -> list[str]:
    collapsed: list[str] = []
    for segment in segments:
        if not (segment == "**" and collapsed and collapsed[-1] == "**"):
            collapsed.append(segment)
    return collapsed


def _segments_regex(segments: list[str]) -> str:
    last = len(segments) - 1
    parts: list[str] = []
    need_slash = False
    for index, segment in enumerate(segments):
        if segment == "**":
            if index == 0 and index == last:
                parts.append(".+")
            elif index == 0:
                parts.append("(?:.+/)?")
            elif index == last:
                parts.append("/.*")
            else:
                parts.append("(?:/.+)?")
                need_slash = True
            continue
        if need_slash:
            parts.append("/")
        need_slash = True
        if segment == "*":
            # A lone `*` last matches files directly in the directory, not deeper:
            # GitHub's `docs/*` owns docs/a.md but not docs/build/b.md.
            parts.append("[^/]+")
            continue
        parts.append(_segment_regex(segment))
        if index == last:
            parts.append("(?:/.*)?")  # a name matches that file or everything in that directory
    return "".join(parts)


def _segment_regex(segment: str) -> str:
    out: list[str] = []
    escaped = False
    for char in segment:
        if escaped:
            out.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(char))
    return "".join(out)
