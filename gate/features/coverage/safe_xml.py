"""Coverage XML read with expat driven by hand: no DTD of its own, no entities."""

from __future__ import annotations

from xml.parsers import expat

from gate.features.coverage.counts import whole
from gate.features.coverage.report import CoverageError, Lines, Raw

BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
XML_ROOTS = {"coverage": "cobertura", "report": "jacoco"}
_XML_TRUNCATED = frozenset(
    {
        expat.errors.XML_ERROR_NO_ELEMENTS,
        expat.errors.XML_ERROR_UNCLOSED_TOKEN,
        expat.errors.XML_ERROR_PARTIAL_CHAR,
    }
)


def looks_like_xml(data: bytes) -> bool:
    return data.removeprefix(BOM).lstrip().startswith(b"<") or data.startswith(UTF16_BOMS)


# XML: expat, driven by hand, so that a DOCTYPE with an internal subset (the only place an
# entity can be declared: billion laughs, quadratic blowup) is refused before anything expands.
# A DOCTYPE that only names an external DTD is allowed: JaCoCo and gcovr always write one, and
# expat never fetches it.
class XmlReader:
    format = "XML"
    root = ""

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.files: dict[str, Lines] = {}
        self.notes: list[str] = []
        self._parser = expat.ParserCreate()
        self._lines_before = 0

    def read(self, data: bytes) -> tuple[Raw, list[str]]:
        if not looks_like_xml(data):
            start = data.removeprefix(BOM).lstrip()[:24]
            raise CoverageError(f"{self.format}: not XML, the input starts with {start!r}")
        if not data.startswith(UTF16_BOMS):
            # the XML declaration must come first: forgive blank lines before it
            start = data.removeprefix(BOM).lstrip()
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
            other = XML_ROOTS.get(tag)
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
        number = whole(value)
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


class RootPeek(XmlReader):
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
