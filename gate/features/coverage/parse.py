"""Line coverage from Cobertura, LCOV, JaCoCo and coverage.py JSON reports, and its features."""

from __future__ import annotations

import json
import posixpath
import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from xml.parsers import expat

from unidiff import PatchSet

FORMATS = ("cobertura", "lcov", "jacoco", "coverage.py")
MAX_REPORT_BYTES = 200 * 1024 * 1024
# how many file names a note spells out before it says "and N more"
MAX_NAMED = 10

_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# at most 30 digits: enough for any 64-bit hit count, and int() refuses over 4,300 digits
_WHOLE = re.compile(r"\s*[+-]?[0-9]{1,30}\s*")
_DRIVE = re.compile(r"[A-Za-z]:/")
_LCOV_KEY = re.compile(r"[A-Z][A-Z0-9_]*")
_LCOV_DA = re.compile(r"DA:([1-9][0-9]{0,29}),([+-]?[0-9]{1,30})(?:,[^\0]*)?")
# LCOV records that carry nothing about line coverage (functions, branches, summaries)
_LCOV_IGNORED = frozenset(
    {"TN", "VER", "FN", "FNDA", "FNF", "FNH", "FNL", "FNA", "BRDA", "BRF", "BRH", "LF", "LH"}
)
_XML_ROOTS = {"coverage": "cobertura", "report": "jacoco"}
_XML_TRUNCATED = frozenset(
    {
        expat.errors.XML_ERROR_NO_ELEMENTS,
        expat.errors.XML_ERROR_UNCLOSED_TOKEN,
        expat.errors.XML_ERROR_PARTIAL_CHAR,
    }
)


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
class _Lines:
    executable: set[int] = field(default_factory=set)
    covered: set[int] = field(default_factory=set)

    def mark(self, line: int, hit: bool) -> None:
        self.executable.add(line)
        if hit:
            self.covered.add(line)

    def merge(self, other: _Lines) -> None:
        self.executable |= other.executable
        self.covered |= other.covered


# report path candidates (best first) -> lines; Cobertura with several <source>s gives several
_Raw = dict[tuple[str, ...], _Lines]


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
    if not data.removeprefix(_BOM).strip():
        raise CoverageError("coverage report is empty")
    name = _format_name(format) if format is not None else _detect(data)
    if name == "lcov":
        raw, notes = _read_lcov(data)
    elif name == "coverage.py":
        raw, notes = _read_coverage_json(data)
    else:
        reader = _Cobertura() if name == "cobertura" else _Jacoco()
        raw, notes = reader.read(data)
    files, mapping_notes = _resolve(raw, strip_prefixes, repo_paths)
    if not raw:
        notes.append(f"{name}: the report lists no files")
    return CoverageReport(name, files, notes + mapping_notes)


def _format_name(format: str) -> str:
    name = format.strip().lower()
    if name not in FORMATS:
        raise CoverageError(f"unknown coverage format {format!r}: expected one of {FORMATS}")
    return name


def _detect(data: bytes) -> str:
    head = data.removeprefix(_BOM).lstrip()
    if _looks_like_xml(data):
        root = _RootPeek().root_of(data)
        if root not in _XML_ROOTS:
            raise CoverageError(
                f"XML with root <{root}> is neither Cobertura (<coverage>) nor JaCoCo (<report>)"
            )
        return _XML_ROOTS[root]
    if head.startswith(b"{"):
        return "coverage.py"
    if re.match(rb"(TN|SF|VER):", head):
        return "lcov"
    raise CoverageError(
        "cannot tell the coverage format: not XML (Cobertura, JaCoCo), coverage.py JSON or LCOV; "
        f"the input starts with {head[:24]!r}"
    )


def _looks_like_xml(data: bytes) -> bool:
    return data.removeprefix(_BOM).lstrip().startswith(b"<") or data.startswith(_UTF16_BOMS)


def _whole(value: object) -> int | None:
    if not isinstance(value, str):
        return None
    if value.isascii() and value.isdigit() and len(value) <= 30:  # the common case, fast
        return int(value)
    return int(value) if _WHOLE.fullmatch(value) else None


# XML: expat, driven by hand, so that a DOCTYPE with an internal subset (the only place an
# entity can be declared: billion laughs, quadratic blowup) is refused before anything expands.
# A DOCTYPE that only names an external DTD is allowed: JaCoCo and gcovr always write one, and
# expat never fetches it.
class _XmlReader:
    format = "XML"
    root = ""

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.files: dict[str, _Lines] = {}
        self.notes: list[str] = []
        self._parser = expat.ParserCreate()
        self._lines_before = 0

    def read(self, data: bytes) -> tuple[_Raw, list[str]]:
        if not _looks_like_xml(data):
            start = data.removeprefix(_BOM).lstrip()[:24]
            raise CoverageError(f"{self.format}: not XML, the input starts with {start!r}")
        if not data.startswith(_UTF16_BOMS):
            # the XML declaration must come first: forgive blank lines before it
            start = data.removeprefix(_BOM).lstrip()
            self._lines_before = data[: len(data) - len(start)].count(b"\n")
            data = start
        parser = self._parser
        parser.buffer_text = True
        parser.StartDoctypeDeclHandler = self._doctype
        parser.EntityDeclHandler = self._entity
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self.text
        try:
            parser.Parse(data, True)
        except CoverageError:
            raise
        except (LookupError, ValueError) as error:
            # an encoding declaration expat cannot use: unknown, or multi-byte
            raise CoverageError(f"{self.format}: cannot read the XML: {error}") from error
        except expat.ExpatError as error:
            message = expat.ErrorString(error.code)
            hint = " (the input ends early: truncated?)" if message in _XML_TRUNCATED else ""
            raise CoverageError(
                f"{self.format}: malformed XML at line {error.lineno + self._lines_before}, column "
                f"{error.offset + 1}: {message}{hint}"
            ) from error
        return {self.candidates(path): lines for path, lines in self.files.items()}, self.notes

    def candidates(self, path: str) -> tuple[str, ...]:
        return (path,)

    def line(self) -> int:
        return self._parser.CurrentLineNumber + self._lines_before

    def _doctype(self, name: str, _system: str | None, _public: str | None, internal: int) -> None:
        if internal:
            raise CoverageError(
                f"{self.format}: refused <!DOCTYPE {name} [...]> at line "
                f"{self.line()}: a report must not declare its own DTD or "
                "entities"
            )

    def _entity(self, name: str, *_args: object) -> None:
        raise CoverageError(f"{self.format}: refused <!ENTITY {name}> at line {self.line()}")

    def _start(self, tag: str, attrs: dict[str, str]) -> None:
        if not self.stack:
            self.check_root(tag, attrs)
        self.start(tag, attrs)
        self.stack.append(tag)

    def _end(self, tag: str) -> None:
        self.stack.pop()
        self.end(tag)

    def check_root(self, tag: str, attrs: dict[str, str]) -> None:
        if tag != self.root:
            other = _XML_ROOTS.get(tag)
            hint = f" (this looks like a {other} report)" if other else ""
            raise CoverageError(
                f"{self.format}: the root element is <{tag}>, expected <{self.root}>{hint}"
            )

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        pass

    def end(self, tag: str) -> None:
        pass

    def text(self, text: str) -> None:
        pass

    def parent(self, depth: int = 1) -> str:
        return self.stack[-depth] if len(self.stack) >= depth else ""

    def number(self, tag: str, attrs: dict[str, str], name: str, minimum: int | None = 0) -> int:
        value = attrs.get(name)
        number = _whole(value)
        if number is not None and (minimum is None or number >= minimum):
            return number
        where = f"{self.format}: <{tag}> at line {self.line()}"
        if value is None:
            raise CoverageError(f"{where} has no {name} attribute")
        kind = "a line number" if minimum else "a whole number"
        raise CoverageError(f"{where} has {name}={value!r}, not {kind}")

    def required(self, tag: str, attrs: dict[str, str], name: str) -> str:
        value = attrs.get(name, "").strip()
        if not value:
            raise CoverageError(f"{self.format}: <{tag}> at line {self.line()} has no {name}")
        return value


class _RootPeek(_XmlReader):
    def root_of(self, data: bytes) -> str:
        try:
            self.read(data)
        except _FoundRoot as found:
            return found.tag
        raise CoverageError("XML: no root element")  # pragma: no cover - expat requires one

    def check_root(self, tag: str, attrs: dict[str, str]) -> None:
        raise _FoundRoot(tag)


class _FoundRoot(Exception):
    def __init__(self, tag: str) -> None:
        self.tag = tag


class _Cobertura(_XmlReader):
    format = "cobertura"
    root = "coverage"

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []
        self._source: list[str] | None = None
        self._file = _Lines()

    def check_root(self, tag: str, attrs: dict[str, str]) -> None:
        if tag == "coverage" and "clover" in attrs:
            raise CoverageError("cobertura: this is a Clover report, which is not supported")
        super().check_root(tag, attrs)

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        # <line>s under <class><lines>; those under <method><lines> repeat them
        if tag == "line" and self.stack[-2:] == ["class", "lines"]:
            line = self.number(tag, attrs, "number", minimum=1)
            self._file.mark(line, self.number(tag, attrs, "hits", minimum=None) > 0)
        elif tag == "source" and self.parent() == "sources":
            self._source = []
        elif tag == "class" and self.parent() == "classes":
            filename = self.required(tag, attrs, "filename")
            self._file = self.files.setdefault(filename, _Lines())

    def text(self, text: str) -> None:
        if self._source is not None:
            self._source.append(text)

    def end(self, tag: str) -> None:
        if tag == "source" and self._source is not None:
            source = "".join(self._source).strip()
            if source:
                self.sources.append(source)
            self._source = None

    def candidates(self, path: str) -> tuple[str, ...]:
        if not self.sources or _is_absolute(_slashes(path)):
            return (path,)
        return tuple(posixpath.join(_slashes(source), _slashes(path)) for source in self.sources)


class _Jacoco(_XmlReader):
    format = "jacoco"
    root = "report"

    def __init__(self) -> None:
        super().__init__()
        self._package = ""
        self._file = _Lines()
        self._empty_lines = 0

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if tag == "package":
            # JaCoCo writes package names with slashes; the default package is ""
            self._package = attrs.get("name", "").strip().strip("/")
        elif tag == "sourcefile" and self.parent() == "package":
            path = posixpath.join(self._package, self.required(tag, attrs, "name"))
            self._file = self.files.setdefault(path, _Lines())
        elif tag == "line" and self.parent() == "sourcefile":
            line = self.number(tag, attrs, "nr", minimum=1)
            missed = self.number(tag, attrs, "mi")
            covered = self.number(tag, attrs, "ci")
            if covered or missed:
                self._file.mark(line, covered > 0)
            else:
                self._empty_lines += 1

    def read(self, data: bytes) -> tuple[_Raw, list[str]]:
        raw, notes = super().read(data)
        if self._empty_lines:
            notes.append(f"jacoco: skipped {self._empty_lines} <line>s with no instructions")
        return raw, notes


def _read_lcov(data: bytes) -> tuple[_Raw, list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CoverageError(f"lcov: not UTF-8 text (bad byte at offset {error.start})") from None
    files: dict[str, _Lines] = {}
    unknown: Counter[str] = Counter()
    unclosed: list[str] = []
    current: _Lines | None = None
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
            current = files.setdefault(path, _Lines())
        elif key == "DA":
            if current is None:
                raise CoverageError(f"lcov line {number}: DA: outside a file record (no SF: first)")
            fields = value.split(",")
            line_no = _whole(fields[0])
            hits = _whole(fields[1]) if len(fields) > 1 else None
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
        notes.append(_named("lcov records not closed by end_of_record", unclosed))
    return {(path,): lines for path, lines in files.items()}, notes


def _read_coverage_json(data: bytes) -> tuple[_Raw, list[str]]:
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
    raw: _Raw = {}
    for path, entry in document["files"].items():
        if not isinstance(entry, dict):
            raise CoverageError(f"{where}: files[{path!r}] is not an object")
        lines = raw.setdefault((path,), _Lines())
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


def _slashes(path: str) -> str:
    return path.strip().replace("\\", "/")


def _is_absolute(path: str) -> bool:
    return path.startswith("/") or bool(_DRIVE.match(path))


def _clean(path: str) -> str:
    """A report path as POSIX: forward slashes, no '.', '..' folded, one leading '/' at most."""
    path = _slashes(path)
    if not path:
        return ""
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return "" if cleaned == "." else cleaned


def _parts(path: str) -> tuple[str, ...]:
    return tuple(part for part in path.split("/") if part)


def _strip(path: str, prefixes: Sequence[tuple[bool, tuple[str, ...]]]) -> str:
    absolute, parts = path.startswith("/"), _parts(path)
    for prefix_absolute, prefix in prefixes:
        if prefix_absolute == absolute and parts[: len(prefix)] == prefix:
            return "/".join(parts[len(prefix) :])
    return path


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
            parts = _parts(_clean(path))
            if parts:
                self.exact[parts] = "/".join(parts)
                for start in range(1, len(parts)):
                    self.by_suffix[parts[start:]].append("/".join(parts))

    def lookup(self, path: str) -> _Match:
        absolute, parts = _is_absolute(path), _parts(path)
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


def _resolve(
    raw: _Raw, strip_prefixes: Sequence[str], repo_paths: Collection[str] | None
) -> tuple[dict[str, FileCoverage], list[str]]:
    prefixes = sorted(
        {(_clean(p).startswith("/"), _parts(_clean(p))) for p in strip_prefixes if _clean(p)},
        key=lambda prefix: len(prefix[1]),
        reverse=True,
    )
    merged: dict[str, _Lines] = {}
    skipped: list[str] = []
    unmapped: list[str] = []
    ambiguous: list[str] = []
    absolute: list[str] = []
    index = _RepoIndex(repo_paths) if repo_paths is not None else None
    chosen: list[tuple[str, _Match | None, _Lines, str]] = []
    for candidates, lines in raw.items():
        paths = [_strip(_clean(candidate), prefixes) for candidate in candidates]
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
        elif _is_absolute(path):
            absolute.append(path)
        merged.setdefault(target, _Lines()).merge(lines)
    notes = []
    if skipped:
        notes.append(_named("report paths left empty after stripping prefixes, skipped", skipped))
    if unmapped:
        notes.append(_named("report files not found in the repository", unmapped))
    if ambiguous:
        notes.append(
            _named("report files match several repository files, left unmapped", ambiguous)
        )
    if absolute:
        notes.append(
            _named("report paths still absolute (give strip_prefixes or repo_paths)", absolute)
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


def _named(what: str, items: Sequence[str]) -> str:
    shown = ", ".join(items[:MAX_NAMED])
    more = f" and {len(items) - MAX_NAMED} more" if len(items) > MAX_NAMED else ""
    return f"{what} ({len(items)}): {shown}{more}"


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
                _named("patch coverage: no added executable lines; files not in the report", absent)
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
            notes.append(_named("touched files coverage: changed files not in the report", missing))
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
