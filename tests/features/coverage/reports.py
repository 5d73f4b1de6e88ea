"""Coverage reports for the tests: the recorded fixtures, and a writer for each format."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from hypothesis import strategies as st

from gate.features.coverage.report import CoverageReport

DATA = Path(__file__).parents[2] / "data" / "coverage"
CI_ROOT = "/home/runner/work/shop/shop"

# the coverage.py run behind cobertura.xml and coverage.json: path -> (executable, covered)
SHOP = {
    "src/shop/__init__.py": ({1, 3}, {1, 3}),
    "src/shop/cart.py": ({1, 2, 5, 6, 7, 10, 11, 12, 15}, {1, 2, 5, 6, 7, 10, 15}),
    "src/shop/pricing.py": ({1, 4, 5, 8, 9, 10}, {1, 4, 8}),
}

Lines = dict[str, tuple[set[int], set[int]]]


def fixture(name: str) -> bytes:
    return (DATA / name).read_bytes()


def lines_of(report: CoverageReport) -> Lines:
    return {path: (set(file.executable), set(file.covered)) for path, file in report.items()}


segment = st.text(alphabet=st.sampled_from("abcxyz019_-é& <'\""), min_size=1, max_size=8).filter(
    lambda s: s == s.strip()
)
paths = st.lists(segment, min_size=1, max_size=4).map("/".join)


@st.composite
def coverages(draw: st.DrawFn) -> Lines:
    files: Lines = {}
    for path in draw(st.lists(paths, max_size=5, unique=True)):
        executable = draw(st.sets(st.integers(1, 5000), max_size=30))
        covered = draw(st.sets(st.sampled_from(sorted(executable)))) if executable else set()
        files[path] = (executable, covered)
    return files


def cobertura(files: Lines, source: str = "/ci/checkout") -> bytes:
    out = ['<?xml version="1.0" ?>\n<coverage version="7.6.1">']
    out.append(f"<sources><source>{escape(source)}</source></sources><packages>")
    out.append('<package name="p"><classes>')
    for path, (executable, covered) in files.items():
        out.append(f"<class name={quoteattr(path)} filename={quoteattr(path)}><methods/><lines>")
        out += [
            f'<line number="{n}" hits="{n % 5 + 1 if n in covered else 0}"/>' for n in executable
        ]
        out.append("</lines></class>")
    out.append("</classes></package></packages></coverage>\n")
    return "\n".join(out).encode()


def jacoco(files: Lines) -> bytes:
    out = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>']
    out.append('<!DOCTYPE report PUBLIC "-//JACOCO//DTD Report 1.1//EN" "report.dtd">')
    out.append('<report name="r"><sessioninfo id="s" start="1" dump="2"/>')
    for path, (executable, covered) in files.items():
        package, name = posixpath.split(path)
        out.append(f"<package name={quoteattr(package)}><sourcefile name={quoteattr(name)}>")
        for n in sorted(executable):
            # a covered line may still have missed instructions; an uncovered one has none run
            mi, ci = (n % 2, n % 3 + 1) if n in covered else (n % 4 + 1, 0)
            out.append(f'<line nr="{n}" mi="{mi}" ci="{ci}" mb="0" cb="0"/>')
        out.append('<counter type="LINE" missed="0" covered="0"/></sourcefile></package>')
    out.append("</report>")
    return "".join(out).encode()


def lcov(files: Lines) -> bytes:
    out = []
    for path, (executable, covered) in files.items():
        out += ["TN:", f"SF:{path}", "FNF:0", "FNH:0"]
        out += [f"DA:{n},{n % 7 + 1 if n in covered else 0}" for n in sorted(executable)]
        out += [f"LF:{len(executable)}", f"LH:{len(covered)}", "end_of_record"]
    return ("\n".join(out) + "\n").encode()


def coverage_json(files: Lines) -> bytes:
    entries = {
        path: {
            "executed_lines": sorted(covered),
            "summary": {"covered_lines": len(covered), "num_statements": len(executable)},
            "missing_lines": sorted(executable - covered),
            "excluded_lines": [n + 5001 for n in sorted(covered)[:2]],
        }
        for path, (executable, covered) in files.items()
    }
    return json.dumps({"meta": {"format": 3, "version": "7.6.1"}, "files": entries}).encode()


WRITERS: dict[str, Callable[[Lines], bytes]] = {
    "cobertura": cobertura,
    "jacoco": jacoco,
    "lcov": lcov,
    "coverage.py": coverage_json,
}
