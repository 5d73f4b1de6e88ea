"""Report paths mapped onto the repository's files, with notes on those that do not map."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from gate.features.coverage.paths import clean, is_absolute, path_parts, strip_prefix
from gate.features.coverage.report import FileCoverage, Lines, Raw, named


@dataclass(frozen=True)
class _Match:
    path: str | None = None
    dropped: str | None = None  # the leading directories the report has and the repo has not
    ambiguous: tuple[str, ...] = ()


class _RepoIndex:
    """The repository's files, looked up by a report path or by any trailing part of one."""

    def __init__(self, repo_paths: Iterable[str]) -> None:
        self.exact: dict[tuple[str, ...], str] = {}
        self.by_suffix: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for path in repo_paths:
            parts = path_parts(clean(path))
            if parts:
                self.exact[parts] = "/".join(parts)
                for start in range(1, len(parts)):
                    self.by_suffix[parts[start:]].append("/".join(parts))

    def lookup(self, path: str) -> _Match:
        absolute, parts = is_absolute(path), path_parts(path)
        if not parts:
            return _Match()
        if not absolute and parts in self.exact:
            return _Match(self.exact[parts])
        longer = self.by_suffix.get(parts, [])
        if len(longer) == 1:
            return _Match(longer[0])
        if longer:
            return _Match(ambiguous=tuple(sorted(longer)))
        # the report path is longer: a CI checkout root or a source root in front of a repo path
        for size in range(len(parts) if absolute else len(parts) - 1, 0, -1):
            found = self.exact.get(parts[-size:])
            if found is not None:
                lead = "/".join(parts[:-size])
                return _Match(found, dropped=("/" + lead) if path.startswith("/") else lead)
        return _Match()


def resolve(
    raw: Raw, strip_prefixes: Sequence[str], repo_paths: Collection[str] | None
) -> tuple[dict[str, FileCoverage], list[str]]:
    prefixes = sorted(
        {(clean(p).startswith("/"), path_parts(clean(p))) for p in strip_prefixes if clean(p)},
        key=lambda prefix: len(prefix[1]),
        reverse=True,
    )
    merged: dict[str, Lines] = {}
    skipped: list[str] = []
    unmapped: list[str] = []
    ambiguous: list[str] = []
    absolute: list[str] = []
    index = _RepoIndex(repo_paths) if repo_paths is not None else None
    chosen: list[tuple[str, _Match | None, Lines, str]] = []
    for candidates, lines in raw.items():
        paths = [strip_prefix(clean(candidate), prefixes) for candidate in candidates]
        paths = [path for path in paths if path]
        if not paths:
            skipped.append(candidates[0] or "''")
            continue
        match = _best(index, paths) if index is not None else None
        chosen.append((paths[0], match, lines, candidates[0]))
    # A match found only by dropping leading directories counts when it drops what most such
    # matches drop (the CI checkout root), so /usr/include/stdio.h does not become stdio.h.
    roots = Counter(match.dropped for _, match, _, _ in chosen if match and match.dropped)
    common_root = roots.most_common(1)[0][0] if roots else None
    for path, match, lines, original in chosen:
        target = path
        if match is not None:
            if match.ambiguous:
                ambiguous.append(f"{original} ({', '.join(match.ambiguous[:3])})")
            elif match.path is None or (match.dropped and match.dropped != common_root):
                unmapped.append(original)
            else:
                target = match.path
        elif is_absolute(path):
            absolute.append(path)
        merged.setdefault(target, Lines()).merge(lines)
    notes = []
    if skipped:
        notes.append(named("report paths left empty after stripping prefixes, skipped", skipped))
    if unmapped:
        notes.append(named("report files not found in the repository", unmapped))
    if ambiguous:
        notes.append(named("report files match several repository files, left unmapped", ambiguous))
    if absolute:
        notes.append(
            named("report paths still absolute (give strip_prefixes or repo_paths)", absolute)
        )
    files = {
        path: FileCoverage(frozenset(lines.executable), frozenset(lines.covered))
        for path, lines in merged.items()
    }
    return files, notes


def _best(index: _RepoIndex, paths: Sequence[str]) -> _Match:
    """The best of the candidates' matches: a whole path, then one under a root, then ambiguity."""

    def rank(match: _Match) -> int:
        if match.path is not None:
            return 1 if match.dropped else 0
        return 2 if match.ambiguous else 3

    return min((index.lookup(path) for path in paths), key=rank)
