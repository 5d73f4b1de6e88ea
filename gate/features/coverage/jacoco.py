"""JaCoCo XML: <sourcefile>s under <package>s, lines with missed and covered instructions."""

from __future__ import annotations

import posixpath

from gate.features.coverage.report import Lines, Raw
from gate.features.coverage.safe_xml import XmlReader


class Jacoco(XmlReader):
    format = "jacoco"
    root = "report"

    def __init__(self) -> None:
        super().__init__()
        self._package = ""
        self._file = Lines()
        self._empty_lines = 0

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if tag == "package":
            # JaCoCo writes package names with slashes; the default package is ""
            self._package = attrs.get("name", "").strip().strip("/")
        elif tag == "sourcefile" and self.parent() == "package":
            path = posixpath.join(self._package, self.required(tag, attrs, "name"))
            self._file = self.files.setdefault(path, Lines())
        elif tag == "line" and self.parent() == "sourcefile":
            line = self.number(tag, attrs, "nr", minimum=1)
            missed = self.number(tag, attrs, "mi")
            covered = self.number(tag, attrs, "ci")
            if covered or missed:
                self._file.mark(line, covered > 0)
            else:
                self._empty_lines += 1

    def read(self, data: bytes) -> tuple[Raw, list[str]]:
        raw, notes = super().read(data)
        if self._empty_lines:
            notes.append(f"jacoco: skipped {self._empty_lines} <line>s with no instructions")
        return raw, notes
