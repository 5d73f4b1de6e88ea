"""Coverage reports in four formats read, told apart, and refused with a clear error."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate.features.coverage import parse as parse_module
from gate.features.coverage.parse import parse_coverage
from gate.features.coverage.report import CoverageError
from tests.features.coverage.reports import (
    CI_ROOT,
    SHOP,
    WRITERS,
    Lines,
    coverages,
    fixture,
    lines_of,
)

# -- each format from a realistic report ------------------------------------------------------


def test_cobertura_from_coverage_py_joins_the_source_and_strips_the_ci_root():
    report = parse_coverage(fixture("cobertura.xml"), "cobertura", strip_prefixes=[CI_ROOT])
    assert report.format == "cobertura"
    assert lines_of(report) == SHOP
    assert report.notes == []


def test_cobertura_without_a_prefix_keeps_absolute_paths_and_says_so():
    report = parse_coverage(fixture("cobertura.xml"))
    assert set(report) == {f"{CI_ROOT}/{path}" for path in SHOP}
    assert report.notes == [
        "report paths still absolute (give strip_prefixes or repo_paths) (3): "
        f"{CI_ROOT}/src/shop/__init__.py, {CI_ROOT}/src/shop/cart.py, "
        f"{CI_ROOT}/src/shop/pricing.py"
    ]


def test_cobertura_from_java_merges_inner_classes_and_ignores_method_lines():
    report = parse_coverage(fixture("cobertura-java.xml"))
    root = "/builds/acme/shop/src/main/java/com/acme/shop"
    # Cart and Cart$Line share Cart.java; method <lines> repeat the class's and add nothing
    assert lines_of(report) == {
        f"{root}/Cart.java": ({9, 10, 13, 14, 16, 20, 25, 26}, {9, 10, 13, 16, 25}),
        f"{root}/Item_Builder.java": ({7, 8}, {7}),
    }


def test_cobertura_with_two_sources_picks_the_one_the_repository_has():
    repo = [
        "pom.xml",
        "src/main/java/com/acme/shop/Cart.java",
        "target/generated-sources/annotations/com/acme/shop/Item_Builder.java",
    ]
    report = parse_coverage(fixture("cobertura-java.xml"), repo_paths=repo)
    assert set(report) == set(repo[1:])
    assert report["src/main/java/com/acme/shop/Cart.java"].covered == {9, 10, 13, 16, 25}
    assert report.notes == []


def test_lcov_uses_da_records_only():
    report = parse_coverage(
        fixture("lcov.info"), "lcov", strip_prefixes=["/home/runner/work/web/web/"]
    )
    assert report.format == "lcov"
    assert lines_of(report) == {
        "src/cart.js": ({1, 2, 5, 6, 7, 8, 12, 13, 16}, {1, 2, 5, 6, 7, 8, 16}),
        "src/util/format.js": ({1, 4, 5, 7}, {1, 4, 5}),
        "src/index.js": ({1, 2, 3}, {1, 2, 3}),
    }
    assert report.notes == []


def test_jacoco_joins_package_and_sourcefile_and_counts_partly_covered_lines():
    report = parse_coverage(fixture("jacoco.xml"), "jacoco")
    assert report.format == "jacoco"
    # line 13 has mi=0 ci=4 and a missed branch: covered; 14 and 20 have mi>0 ci=0
    assert lines_of(report) == {
        "com/acme/shop/Cart.java": ({9, 10, 13, 14, 16, 20}, {9, 10, 13, 16}),
        "com/acme/shop/util/Money.java": ({5, 6}, {5}),
    }


def test_coverage_py_json_leaves_excluded_lines_out():
    report = parse_coverage(fixture("coverage.json"), "coverage.py")
    assert report.format == "coverage.py"
    assert lines_of(report) == SHOP
    assert 18 not in report["src/shop/cart.py"].executable  # excluded (pragma: no cover)
    assert report["src/shop/cart.py"].ratio == pytest.approx(7 / 9)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("cobertura.xml", "cobertura"),
        ("cobertura-java.xml", "cobertura"),
        ("lcov.info", "lcov"),
        ("jacoco.xml", "jacoco"),
        ("coverage.json", "coverage.py"),
    ],
)
def test_the_format_is_detected_from_the_content(name: str, expected: str):
    data = fixture(name)
    assert parse_coverage(data).format == expected
    assert parse_coverage(b"\xef\xbb\xbf\n  " + data).format == expected  # BOM, blank lines
    assert lines_of(parse_coverage(data)) == lines_of(parse_coverage(data, expected))


def test_format_names_are_case_insensitive():
    assert parse_coverage(fixture("jacoco.xml"), "JaCoCo").format == "jacoco"


# -- bad input ---------------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE coverage [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
]>
<coverage><sources><source>&lol2;</source></sources></coverage>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE report [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<report name="&secret;"/>
"""


def replace_line(data: bytes, number: int, text: bytes) -> bytes:
    lines = data.split(b"\n")
    lines[number - 1] = text
    return b"\n".join(lines)


BAD_INPUTS: list[tuple[str, Callable[[], bytes], str | None, str]] = [
    ("empty", lambda: b"", None, "coverage report is empty"),
    ("blank", lambda: b" \n\t\r\n", "lcov", "coverage report is empty"),
    (
        "binary blob",
        lambda: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        None,
        "cannot tell the coverage format: not XML (Cobertura, JaCoCo), coverage.py JSON or LCOV; "
        "the input starts with b'\\x89PNG",
    ),
    ("binary blob as lcov", lambda: b"SF:a\n\xff\xfe\x00", "lcov", "lcov: not UTF-8 text"),
    (
        "binary blob as cobertura",
        lambda: b"\x1f\x8b\x08\x00",
        "cobertura",
        "cobertura: not XML, the input starts with b'\\x1f\\x8b",
    ),
    (
        "gzip blob as json",
        lambda: b"\x1f\x8b\x08\x00",
        "coverage.py",
        "coverage.py JSON: not UTF-8 text (bad byte at offset 1)",
    ),
    (
        "mismatched XML tag",
        lambda: b"<coverage>\n<packages>\n</coverage>",
        None,
        "cobertura: malformed XML at line 3, column 3: mismatched tag",
    ),
    (
        "truncated cobertura",
        lambda: fixture("cobertura.xml")[:900],
        None,
        "cobertura: malformed XML at line 20",
    ),
    (
        "truncated jacoco",
        lambda: fixture("jacoco.xml")[:-10],
        "jacoco",
        "(the input ends early: truncated?)",
    ),
    (
        "bad line number",
        lambda: fixture("cobertura.xml").replace(b'number="11"', b'number="eleven"'),
        None,
        "cobertura: <line> at line 27 has number='eleven', not a line number",
    ),
    (
        "line without hits",
        lambda: fixture("cobertura.xml").replace(b' hits="0"', b"", 1),
        None,
        "cobertura: <line> at line 27 has no hits attribute",
    ),
    (
        "class without filename",
        lambda: fixture("cobertura.xml").replace(b'filename="shop/cart.py"', b""),
        None,
        "cobertura: <class> at line 18 has no filename",
    ),
    (
        "negative jacoco count",
        lambda: fixture("jacoco.xml").replace(b'mi="4"', b'mi="-4"'),
        None,
        "jacoco: <line> at line 1 has mi='-4', not a whole number",
    ),
    (
        "sourcefile without a name",
        lambda: fixture("jacoco.xml").replace(b'<sourcefile name="Money.java">', b"<sourcefile>"),
        None,
        "jacoco: <sourcefile> at line 1 has no name",
    ),
    ("other XML", lambda: b"<html><body/></html>", None, "XML with root <html> is neither"),
    (
        "jacoco given as cobertura",
        lambda: fixture("jacoco.xml"),
        "cobertura",
        "cobertura: the root element is <report>, expected <coverage> (this looks like a jacoco "
        "report)",
    ),
    (
        "clover",
        lambda: b'<coverage generated="1" clover="4.4.1"><project/></coverage>',
        None,
        "cobertura: this is a Clover report, which is not supported",
    ),
    (
        "billion laughs",
        lambda: BILLION_LAUGHS,
        None,
        "XML: refused <!DOCTYPE coverage [...]> at line 2: a report must not declare its own DTD",
    ),
    (
        "external entity",
        lambda: EXTERNAL_ENTITY,
        "jacoco",
        "jacoco: refused <!DOCTYPE report [...]> at line 2",
    ),
    (
        "lcov garbage line",
        lambda: replace_line(fixture("lcov.info"), 12, b"<<<<<<< HEAD"),
        None,
        "lcov line 12: not an LCOV record: '<<<<<<< HEAD'",
    ),
    (
        "lcov lowercase key",
        lambda: replace_line(fixture("lcov.info"), 12, b"da:1,1"),
        None,
        "lcov line 12: not an LCOV record: 'da:1,1'",
    ),
    (
        "lcov bad DA",
        lambda: replace_line(fixture("lcov.info"), 12, b"DA:2"),
        None,
        "lcov line 12: DA: needs a line number and a hit count, got '2'",
    ),
    (
        "lcov huge number",
        lambda: replace_line(fixture("lcov.info"), 12, b"DA:" + b"9" * 5000 + b",1"),
        None,
        "lcov line 12: DA: needs a line number and a hit count, got '99999",
    ),
    (
        "lcov DA before SF",
        lambda: b"TN:\nDA:1,1\nend_of_record\n",
        None,
        "lcov line 2: DA: outside a file record (no SF: first)",
    ),
    (
        "lcov empty SF",
        lambda: b"SF:\nend_of_record\n",
        None,
        "lcov line 1: SF: without a file path",
    ),
    (
        "truncated lcov",
        lambda: fixture("lcov.info")[:-20],
        None,
        "lcov: the input ends inside the record for '/home/runner/work/web/web/src/index.js' "
        "begun at line 43 (no end_of_record: truncated?)",
    ),
    (
        "invalid JSON",
        lambda: fixture("coverage.json")[:100],
        None,
        "coverage.py JSON: not valid JSON: ",
    ),
    (
        "JSON of another shape",
        lambda: b'{"coverage": {"src/a.py": [1, 2]}}',
        None,
        'coverage.py JSON: no "files" object at the top level; expected the output of `coverage '
        "json`",
    ),
    ("JSON list", lambda: b"[1, 2]", "coverage.py", 'no "files" object at the top level'),
    (
        "JSON lines not a list",
        lambda: b'{"files": {"a.py": {"executed_lines": 3, "missing_lines": []}}}',
        None,
        "coverage.py JSON: files['a.py'].executed_lines is not a list of line numbers",
    ),
    (
        "JSON line not a number",
        lambda: b'{"files": {"a.py": {"executed_lines": [], "missing_lines": [1, "2"]}}}',
        None,
        "coverage.py JSON: files['a.py'].missing_lines[1] is not a line number: '2'",
    ),
    (
        "JSON missing key",
        lambda: b'{"files": {"a.py": {"executed_lines": [1]}}}',
        None,
        "coverage.py JSON: files['a.py'].missing_lines is missing",
    ),
    (
        "JSON file not an object",
        lambda: b'{"files": {"a.py": [1]}}',
        None,
        "coverage.py JSON: files['a.py'] is not an object",
    ),
    (
        "JSON nested too deeply",
        lambda: b'{"files": ' + b"[" * 200_000,
        None,
        "coverage.py JSON: nested too deeply",
    ),
    (
        "unknown format",
        lambda: fixture("lcov.info"),
        "clover",
        "unknown coverage format 'clover': expected one of ('cobertura', 'lcov', 'jacoco', "
        "'coverage.py')",
    ),
]


@pytest.mark.parametrize(
    ("make", "format", "message"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_input_raises_coverage_error_saying_what_and_where(
    make: Callable[[], bytes], format: str | None, message: str
):
    with pytest.raises(CoverageError) as raised:
        parse_coverage(make(), format)
    assert message in str(raised.value)


def test_a_report_over_the_size_cap_is_refused(monkeypatch: pytest.MonkeyPatch):
    assert parse_module.MAX_REPORT_BYTES == 200 * 1024 * 1024
    monkeypatch.setattr(parse_module, "MAX_REPORT_BYTES", 2 * 1024 * 1024)
    with pytest.raises(CoverageError, match=r"coverage report of 3 MiB is over the 2 MiB limit"):
        parse_coverage(b"TN:\n" * (3 * 1024 * 1024 // 4))


def test_a_doctype_naming_an_external_dtd_is_allowed_and_never_fetched():
    data = b'<!DOCTYPE coverage SYSTEM "http://127.0.0.1:9/coverage-04.dtd"><coverage/>'
    report = parse_coverage(data)
    assert report.files == {}
    assert report.notes == ["cobertura: the report lists no files"]


def test_unknown_lcov_records_and_unclosed_records_are_skipped_with_notes():
    data = b"TN:\nSF:a.c\nDA:1,1\nMCDC:1,2,t,1,0,x\nSF:b.c\nDA:2,-1\nend_of_record\n"
    report = parse_coverage(data)
    assert lines_of(report) == {"a.c": ({1}, {1}), "b.c": ({2}, set())}
    assert report.notes == [
        "lcov: skipped records of unknown types: MCDC x1",
        "lcov records not closed by end_of_record (1): a.c (line 2)",
    ]


def test_jacoco_lines_without_instructions_are_skipped_with_a_note():
    data = fixture("jacoco.xml").replace(b'mi="3" ci="0"', b'mi="0" ci="0"')
    report = parse_coverage(data)
    assert report["com/acme/shop/util/Money.java"].executable == {5}
    assert report.notes == ["jacoco: skipped 1 <line>s with no instructions"]


def test_text_is_not_bytes():
    with pytest.raises(CoverageError, match="must be bytes, not str"):
        parse_coverage("TN:\n")  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(files=coverages(), format=st.sampled_from(sorted(WRITERS)), detect=st.booleans())
def test_any_coverage_written_in_any_format_reads_back_the_same(
    files: Lines, format: str, detect: bool
):
    data = WRITERS[format](files)
    if not files and format == "lcov":  # LCOV has no way to say "no files" but nothing at all
        with pytest.raises(CoverageError, match="coverage report is empty"):
            parse_coverage(data, format)
        return
    report = parse_coverage(data, None if detect else format, strip_prefixes=["/ci/checkout"])
    assert report.format == format
    assert lines_of(report) == files


def mutated(data: bytes, cut: int, at: int, byte: int) -> bytes:
    changed = bytearray(data[: max(1, len(data) * cut // 100)])
    changed[at % len(changed)] = byte
    return bytes(changed)


fixture_names = st.sampled_from(
    ["cobertura.xml", "cobertura-java.xml", "lcov.info", "jacoco.xml", "coverage.json"]
)
junk = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.tuples(
        st.sampled_from([b"TN:\n", b"SF:", b"DA:", b"<coverage>", b"<report>", b'{"files":']),
        st.text(max_size=200),
    ).map(lambda pair: pair[0] + pair[1].encode("utf-8", "surrogatepass")),
    st.builds(
        mutated,
        fixture_names.map(fixture),
        st.integers(1, 100),
        st.integers(0, 10**6),
        st.integers(0, 255),
    ),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=junk, format=st.sampled_from([None, *parse_module.FORMATS]))
def test_arbitrary_bytes_raise_nothing_but_coverage_error(data: bytes, format: str | None):
    try:
        report = parse_coverage(data, format, repo_paths=["src/shop/cart.py", "a/b.py"])
    except CoverageError as error:
        assert str(error)
    else:
        assert report.format in parse_module.FORMATS
        for file in report.values():
            assert file.covered <= file.executable
