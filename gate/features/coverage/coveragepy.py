"""coverage.py JSON (`coverage json`): executed and missing lines per file."""

from __future__ import annotations

import json

from gate.features.coverage.report import CoverageError, Lines, Raw


def read_coverage_json(data: bytes) -> tuple[Raw, list[str]]:
    where = "coverage.py JSON"
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise CoverageError(f"{where}: not UTF-8 text (bad byte at offset {error.start})") from None
    except RecursionError:
        raise CoverageError(f"{where}: nested too deeply to be a coverage report") from None
    except ValueError as error:
        raise CoverageError(f"{where}: not valid JSON: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("files"), dict):
        raise CoverageError(
            f'{where}: no "files" object at the top level; expected the output of `coverage json`'
        )
    raw: Raw = {}
    for path, entry in document["files"].items():
        if not isinstance(entry, dict):
            raise CoverageError(f"{where}: files[{path!r}] is not an object")
        lines = raw.setdefault((path,), Lines())
        for key, hit in (("missing_lines", False), ("executed_lines", True)):
            for line in _line_list(entry, key, f"{where}: files[{path!r}].{key}"):
                lines.mark(line, hit)
    return raw, []


def _line_list(entry: dict[str, object], key: str, where: str) -> list[int]:
    value = entry.get(key)
    if value is None:
        raise CoverageError(f"{where} is missing")
    if not isinstance(value, list):
        raise CoverageError(f"{where} is not a list of line numbers")
    for index, line in enumerate(value):
        if type(line) is not int or line < 1:
            raise CoverageError(f"{where}[{index}] is not a line number: {line!r}")
    return value
