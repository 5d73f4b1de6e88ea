"""LCOV tracefiles: SF records with their DA lines."""

from __future__ import annotations

import re
from collections import Counter

from gate.features.coverage.counts import whole
from gate.features.coverage.report import CoverageError, Lines, Raw, named

_LCOV_KEY = re.compile(r"[A-Z][A-Z0-9_]*")
_LCOV_DA = re.compile(r"DA:([1-9][0-9]{0,29}),([+-]?[0-9]{1,30})(?:,[^\0]*)?")
# LCOV records that carry nothing about line coverage (functions, branches, summaries)
_LCOV_IGNORED = frozenset(
    {"TN", "VER", "FN", "FNDA", "FNF", "FNH", "FNL", "FNA", "BRDA", "BRF", "BRH", "LF", "LH"}
)


def read_lcov(data: bytes) -> tuple[Raw, list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CoverageError(f"lcov: not UTF-8 text (bad byte at offset {error.start})") from None
    files: dict[str, Lines] = {}
    unknown: Counter[str] = Counter()
    unclosed: list[str] = []
    current: Lines | None = None
    path, opened = "", 0
    for number, raw_line in enumerate(text.split("\n"), start=1):
        line = raw_line.strip()
        da = _LCOV_DA.fullmatch(line)
        if da and current is not None:  # the common case, fast
            line_no = int(da[1])
            current.executable.add(line_no)
            if int(da[2]) > 0:
                current.covered.add(line_no)
            continue
        if not line:
            continue
        if line == "end_of_record":
            current = None
            continue
        key, colon, value = line.partition(":")
        if not colon or not _LCOV_KEY.fullmatch(key) or "\0" in line:
            raise CoverageError(f"lcov line {number}: not an LCOV record: {line[:60]!r}")
        if key == "SF":
            if current is not None:
                unclosed.append(f"{path} (line {opened})")
            path, opened = value.strip(), number
            if not path:
                raise CoverageError(f"lcov line {number}: SF: without a file path")
            current = files.setdefault(path, Lines())
        elif key == "DA":
            if current is None:
                raise CoverageError(f"lcov line {number}: DA: outside a file record (no SF: first)")
            fields = value.split(",")
            line_no = whole(fields[0])
            hits = whole(fields[1]) if len(fields) > 1 else None
            if line_no is None or hits is None or line_no < 1:
                raise CoverageError(
                    f"lcov line {number}: DA: needs a line number and a hit count, got {value!r}"
                )
            current.mark(line_no, hits > 0)
        elif key not in _LCOV_IGNORED:
            unknown[key] += 1
    if current is not None:
        raise CoverageError(
            f"lcov: the input ends inside the record for {path!r} begun at line {opened} "
            "(no end_of_record: truncated?)"
        )
    notes = []
    if unknown:
        kinds = ", ".join(f"{key} x{count}" for key, count in sorted(unknown.items()))
        notes.append(f"lcov: skipped records of unknown types: {kinds}")
    if unclosed:
        notes.append(named("lcov records not closed by end_of_record", unclosed))
    return {(path,): lines for path, lines in files.items()}, notes
