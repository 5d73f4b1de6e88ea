"""Coverage features of a change: patch coverage of its added lines, coverage of its files."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from unidiff import PatchSet

from gate.features.coverage.report import CoverageReport, named


def coverage_features(
    report: CoverageReport | None,
    added_lines: Mapping[str, Sequence[int]],
    touched_files: Collection[str],
) -> tuple[dict[str, float | None], list[str]]:
    """patch_coverage, uncovered_added_lines and touched_files_coverage, and notes on gaps.

    Added lines are line numbers in the head version. The report's own notes stay on the report.
    """
    if report is None:
        values: dict[str, float | None] = dict.fromkeys(
            ("patch_coverage", "uncovered_added_lines", "touched_files_coverage")
        )
        return values, ["no coverage report for this commit"]
    notes: list[str] = []
    executable = covered = added = 0
    absent: list[str] = []
    for path, lines in sorted(added_lines.items()):
        numbers = set(lines)
        added += len(numbers)
        if path not in report:
            if numbers:
                absent.append(path)
            continue
        file = report[path]
        executable += len(numbers & file.executable)
        covered += len(numbers & file.covered)
    patch_coverage = covered / executable if executable else None
    if not executable:
        if not added:
            notes.append("patch coverage: the change adds no lines")
        elif absent:
            notes.append(
                named("patch coverage: no added executable lines; files not in the report", absent)
            )
        else:
            notes.append(f"patch coverage: no added executable lines ({added} added lines)")
    ratios = []
    for path in sorted(set(touched_files)):
        ratio = report[path].ratio if path in report else None
        if ratio is not None:
            ratios.append(ratio)
    if not ratios:
        missing = [path for path in sorted(set(touched_files)) if path not in report]
        if not touched_files:
            notes.append("touched files coverage: the change touches no files")
        elif missing:
            notes.append(named("touched files coverage: changed files not in the report", missing))
        else:
            notes.append(
                "touched files coverage: no changed file has executable lines in the report"
            )
    return {
        "patch_coverage": patch_coverage,
        "uncovered_added_lines": float(executable - covered),
        "touched_files_coverage": sum(ratios) / len(ratios) if ratios else None,
    }, notes


def added_line_numbers(patch_text: str) -> dict[str, list[int]]:
    """Each file's added line numbers in the new version, from a unified diff (binary: none).

    Raises unidiff's UnidiffParseError for text that is not a unified diff.
    """
    added: dict[str, list[int]] = {}
    for patched in PatchSet(patch_text):
        if patched.is_binary_file or patched.is_removed_file:
            continue
        lines = [
            line.target_line_no
            for hunk in patched
            for line in hunk
            if line.is_added and line.target_line_no is not None
        ]
        if lines:
            added[patched.path] = lines
    return added
