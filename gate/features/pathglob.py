"""CODEOWNERS-style path globs matched in linear time: no whole-path regex, no backtracking.

A pattern is a list of segments. A segment is matched against one path segment by placing its
star-free blocks leftmost in order (greedy placement is exact when stars match any run of
characters); `**` segments move a set of reachable segment positions forward. Work is bounded by
len(path) times len(pattern), whatever the pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# bounds on what a repository's configuration may ask the matcher to do
MAX_PATTERN_CHARS = 512
MAX_STARS = 32


class PatternError(ValueError):
    """A path pattern GitHub would reject (negation, character ranges, ...)."""


@dataclass(frozen=True)
class _Name:
    """One path segment's glob: star-free blocks (each a fixed-length regex, no repetition)."""

    blocks: tuple[re.Pattern[str], ...]
    lengths: tuple[int, ...]
    starred: bool  # False: the single block must be the whole segment
    nonempty: bool  # a lone `*`: any segment but the empty one

    def matches(self, segment: str) -> bool:
        if self.nonempty:
            return segment != ""
        if not self.starred:
            return self.blocks[0].fullmatch(segment) is not None
        first, *middle, last = zip(self.blocks, self.lengths, strict=True)
        end = len(segment) - last[1]
        if end < first[1] or not first[0].match(segment, 0, first[1]):
            return False
        if not last[0].fullmatch(segment, end):
            return False
        position = first[1]
        for block, _length in middle:
            found = block.search(segment, position, end)
            if found is None:
                return False
            position = found.end()
        return True


_ANY = "**"  # a segment element that spans path segments


@dataclass(frozen=True)
class Glob:
    """A compiled pattern; `matches` takes a repo-relative path without a leading slash."""

    elements: tuple[_Name | str, ...]
    tail: str  # after the last element: "end", "below" (a name: that path or under it), "deeper"
    everything: bool = False  # a lone `**`: any nonempty path
    nothing: bool = False  # "/"

    def matches(self, path: str) -> bool:
        if self.nothing:
            return False
        if self.everything:
            return path != ""
        segments = path.split("/")
        count = len(segments)
        reachable = {0}
        for element in self.elements:
            if not reachable:
                return False
            if isinstance(element, _Name):
                reachable = {i + 1 for i in reachable if i < count and element.matches(segments[i])}
                continue
            # `**` between names spans zero or more segments; exactly one must not be empty
            lowest = min(reachable)
            spanned = set(range(lowest + 2, count + 1))
            spanned |= {i + 1 for i in reachable if i < count and segments[i] != ""}
            reachable |= spanned
        if self.tail == "below":
            return bool(reachable)
        if self.tail == "deeper":
            return any(i < count for i in reachable)
        return count in reachable


def compile_glob(pattern: str) -> Glob:
    """Compile a CODEOWNERS pattern, or raise PatternError."""
    _check_supported(pattern)
    segments = pattern.split("/")
    if segments[0] == "":
        segments = segments[1:]  # a leading slash anchors to the root
    elif len(segments) == 1 or (len(segments) == 2 and segments[1] == ""):
        segments = ["**", *segments]  # no slash but a trailing one: matches at any depth
    if len(segments) > 1 and segments[-1] == "":
        segments[-1] = "**"  # a trailing slash: everything below the directory
    collapsed: list[str] = []
    for segment in segments:
        if not (segment == "**" and collapsed and collapsed[-1] == "**"):
            collapsed.append(segment)
    if collapsed in ([], [""]):
        return Glob((), "end", nothing=True)
    if collapsed == ["**"]:
        return Glob((), "end", everything=True)
    tail = "end"
    if collapsed[-1] == "**":
        collapsed.pop()
        tail = "deeper"
    elif collapsed[-1] != "*":
        tail = "below"  # a name matches that file or everything in that directory
    elements = tuple(_ANY if s == "**" else _name(s) for s in collapsed)
    return Glob(elements, tail)


def _name(segment: str) -> _Name:
    if segment == "*":
        # GitHub's `docs/*` owns docs/a.md but not docs/build/b.md
        return _Name((), (), starred=False, nonempty=True)
    blocks: list[list[str]] = [[]]
    escaped = False
    for char in segment:
        if escaped:
            blocks[-1].append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True  # a trailing lone backslash (before a slash) escapes nothing
        elif char == "*":
            blocks.append([])
        elif char == "?":
            blocks[-1].append("[^/]")
        else:
            blocks[-1].append(re.escape(char))
    compiled = tuple(re.compile("".join(block), re.DOTALL) for block in blocks)
    lengths = tuple(len(block) for block in blocks)
    return _Name(compiled, lengths, starred=len(blocks) > 1, nonempty=False)


def _check_supported(pattern: str) -> None:
    if not pattern:
        raise PatternError("empty pattern")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PatternError(f"pattern longer than {MAX_PATTERN_CHARS} characters")
    if pattern.count("*") > MAX_STARS:
        raise PatternError(f"more than {MAX_STARS} asterisks in one pattern")
    if pattern.startswith("!"):
        raise PatternError("negation (!) is not supported (CODEOWNERS syntax)")
    if "***" in pattern:
        raise PatternError("three consecutive asterisks are not a valid pattern")
    escaped = False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[":
            raise PatternError("character ranges ([ ]) are not supported (CODEOWNERS syntax)")
    if escaped:
        raise PatternError("pattern ends with a lone backslash")
