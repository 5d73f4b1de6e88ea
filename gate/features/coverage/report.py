"""What a parsed coverage report holds: each file's lines, notes, and the error for bad input."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

# how many file names a note spells out before it says "and N more"
MAX_NAMED = 10


class CoverageError(ValueError):
    """A coverage report that cannot be read; the message says what is wrong and where."""


@dataclass(frozen=True)
class FileCoverage:
    """A file's executable lines and the subset of them that ran."""

    executable: frozenset[int]
    covered: frozenset[int]

    @property
    def ratio(self) -> float | None:
        return len(self.covered) / len(self.executable) if self.executable else None


@dataclass
class CoverageReport(Mapping[str, FileCoverage]):
    """Repository-relative POSIX path -> line coverage, with notes on what could not be mapped."""

    format: str
    files: dict[str, FileCoverage]
    notes: list[str] = field(default_factory=list)

    def __getitem__(self, path: str) -> FileCoverage:
        return self.files[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)


@dataclass
class Lines:
    executable: set[int] = field(default_factory=set)
    covered: set[int] = field(default_factory=set)

    def mark(self, line: int, hit: bool) -> None:
        self.executable.add(line)
        if hit:
            self.covered.add(line)

    def merge(self, other: Lines) -> None:
        self.executable |= other.executable
        self.covered |= other.covered


# report path candidates (best first) -> lines; Cobertura with several <source>s gives several
Raw = dict[tuple[str, ...], Lines]


def named(what: str, items: Sequence[str]) -> str:
    shown = ", ".join(items[:MAX_NAMED])
    more = f" and {len(items) - MAX_NAMED} more" if len(items) > MAX_NAMED else ""
    return f"{what} ({len(items)}): {shown}{more}"
