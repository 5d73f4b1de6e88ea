"""Report paths mapped onto the repository: prefixes, suffixes, roots, ambiguity and notes."""

from __future__ import annotations

from gate.features.coverage.parse import parse_coverage
from tests.features.coverage.reports import SHOP, fixture, lcov, lines_of

# -- paths -------------------------------------------------------------------------------------


def test_strip_prefixes_take_the_longest_match_and_whole_directories_only():
    data = lcov({"/ci/repo/src/a.py": ({1}, {1}), "/ci/repository/b.py": ({2}, set())})
    report = parse_coverage(data, strip_prefixes=["/ci", "/ci/repo/"])
    assert set(report) == {"src/a.py", "repository/b.py"}


def test_windows_paths_become_posix():
    data = lcov({"C:\\a\\repo\\src\\app.cs": ({1}, {1})})
    assert set(parse_coverage(data, strip_prefixes=["C:\\a\\repo"])) == {"src/app.cs"}


def test_repo_paths_map_a_package_relative_path_to_its_unique_suffix():
    repo = [
        "pom.xml",
        "src/main/java/com/acme/shop/Cart.java",
        "src/main/java/com/acme/shop/util/Money.java",
        "src/test/java/com/acme/shop/CartTest.java",
    ]
    report = parse_coverage(fixture("jacoco.xml"), repo_paths=repo)
    assert set(report) == {repo[1], repo[2]}
    assert report.notes == []


def test_an_ambiguous_suffix_stays_unmapped_with_a_note():
    repo = [
        "src/main/java/com/acme/shop/Cart.java",
        "legacy/src/main/java/com/acme/shop/Cart.java",
        "src/main/java/com/acme/shop/util/Money.java",
    ]
    report = parse_coverage(fixture("jacoco.xml"), repo_paths=repo)
    assert set(report) == {"com/acme/shop/Cart.java", "src/main/java/com/acme/shop/util/Money.java"}
    assert report.notes == [
        "report files match several repository files, left unmapped (1): com/acme/shop/Cart.java "
        "(legacy/src/main/java/com/acme/shop/Cart.java, src/main/java/com/acme/shop/Cart.java)"
    ]


def test_an_exact_path_beats_a_longer_one_ending_with_it():
    report = parse_coverage(lcov({"app.py": ({1}, {1})}), repo_paths=["app.py", "lib/app.py"])
    assert set(report) == {"app.py"}


def test_absolute_ci_paths_map_onto_the_longest_repository_suffix():
    repo = ["src/shop/__init__.py", "src/shop/cart.py", "src/shop/pricing.py", "cart.py"]
    report = parse_coverage(fixture("cobertura.xml"), repo_paths=repo)
    assert lines_of(report) == SHOP
    assert report.notes == []


def test_a_file_under_another_root_is_not_mapped_by_its_name_alone():
    data = lcov(
        {
            "/home/runner/work/c/c/src/main.c": ({1, 2}, {1}),
            "/home/runner/work/c/c/src/util.c": ({1}, {1}),
            "/usr/include/stdio.h": ({10}, set()),
        }
    )
    report = parse_coverage(data, repo_paths=["src/main.c", "src/util.c", "stdio.h"])
    assert set(report) == {"src/main.c", "src/util.c", "/usr/include/stdio.h"}
    assert report.notes == ["report files not found in the repository (1): /usr/include/stdio.h"]


def test_unmapped_files_are_kept_and_named_in_one_note_at_most_ten():
    files = {f"gen/file{i:02}.py": ({1}, {1}) for i in range(12)}
    report = parse_coverage(lcov(files), repo_paths=["src/app.py"])
    assert set(report) == set(files)
    (note,) = report.notes
    assert note.startswith("report files not found in the repository (12): gen/file00.py, ")
    assert note.endswith("gen/file09.py and 2 more")


def test_two_report_paths_for_one_file_are_merged():
    data = lcov({"/ci/r/a.py": ({1, 2}, {1}), "a.py": ({2, 3}, {2})})
    report = parse_coverage(data, strip_prefixes=["/ci/r"])
    assert lines_of(report) == {"a.py": ({1, 2, 3}, {1, 2})}
