"""A coverage report's format told from its content, read and mapped onto the repository."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from gate.features.coverage.cobertura import Cobertura
from gate.features.coverage.coveragepy import read_coverage_json
from gate.features.coverage.jacoco import Jacoco
from gate.features.coverage.lcov import read_lcov
from gate.features.coverage.report import CoverageError, CoverageReport
from gate.features.coverage.resolve import resolve
from gate.features.coverage.safe_xml import BOM, XML_ROOTS, RootPeek, looks_like_xml

FORMATS = ("cobertura", "lcov", "jacoco", "coverage.py")
MAX_REPORT_BYTES = 200 * 1024 * 1024


def parse_coverage(
    data: bytes,
    format: str | None = None,
    strip_prefixes: Sequence[str] = (),
    repo_paths: Collection[str] | None = None,
) -> CoverageReport:
    """Parse a coverage report (format detected from content when None) into per-file lines.

    Raises CoverageError, and nothing else, for input that is not a readable report.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CoverageError(f"a coverage report must be bytes, not {type(data).__name__}")
    if len(data) > MAX_REPORT_BYTES:
        raise CoverageError(
            f"coverage report of {len(data) / 2**20:.0f} MiB is over the "
            f"{MAX_REPORT_BYTES // 2**20} MiB limit"
        )
    data = bytes(data)
    if not data.removeprefix(BOM).strip():
        raise CoverageError("coverage report is empty")
    name = _format_name(format) if format is not None else _detect(data)
    if name == "lcov":
        raw, notes = read_lcov(data)
    elif name == "coverage.py":
        raw, notes = read_coverage_json(data)
    else:
        reader = Cobertura() if name == "cobertura" else Jacoco()
        raw, notes = reader.read(data)
    files, mapping_notes = resolve(raw, strip_prefixes, repo_paths)
    if not raw:
        notes.append(f"{name}: the report lists no files")
    return CoverageReport(name, files, notes + mapping_notes)


def _format_name(format: str) -> str:
    name = format.strip().lower()
    if name not in FORMATS:
        raise CoverageError(f"unknown coverage format {format!r}: expected one of {FORMATS}")
    return name


def _detect(data: bytes) -> str:
    head = data.removeprefix(BOM).lstrip()
    if looks_like_xml(data):
        root = RootPeek().root_of(data)
        if root not in XML_ROOTS:
            raise CoverageError(
                f"XML with root <{root}> is neither Cobertura (<coverage>) nor JaCoCo (<report>)"
            )
        return XML_ROOTS[root]
    if head.startswith(b"{"):
        return "coverage.py"
    if re.match(rb"(TN|SF|VER):", head):
        return "lcov"
    raise CoverageError(
        "cannot tell the coverage format: not XML (Cobertura, JaCoCo), coverage.py JSON or LCOV; "
        f"the input starts with {head[:24]!r}"
    )
