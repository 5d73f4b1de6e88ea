"""Cobertura XML: <class> files under each <source>, <line> hits."""

from __future__ import annotations

import posixpath

from gate.features.coverage.paths import is_absolute, slashes
from gate.features.coverage.report import CoverageError, Lines
from gate.features.coverage.safe_xml import XmlReader


class Cobertura(XmlReader):
    format = "cobertura"
    root = "coverage"

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []
        self._source: list[str] | None = None
        self._file = Lines()

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
            self._file = self.files.setdefault(filename, Lines())

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
        if not self.sources or is_absolute(slashes(path)):
            return (path,)
        return tuple(posixpath.join(slashes(source), slashes(path)) for source in self.sources)
