"""Coverage features of a change, and the added line numbers of a unified diff."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.features.coverage.features import added_line_numbers, coverage_features
from gate.features.coverage.parse import parse_coverage
from gate.features.coverage.report import CoverageReport, FileCoverage
from tests.features.coverage.reports import Lines, coverages, fixture, paths

# -- features ----------------------------------------------------------------------------------


def shop_report() -> CoverageReport:
    return parse_coverage(fixture("coverage.json"))


def test_features_by_hand():
    added = {
        "src/shop/cart.py": [10, 11, 12, 13, 14],  # 13, 14 blank or comments: not executable
        "src/shop/pricing.py": [9],
        "src/shop/new.py": [1, 2, 3],  # not in the report
        "README.md": [1, 2],
    }
    touched = ["src/shop/cart.py", "src/shop/pricing.py", "src/shop/new.py", "README.md"]
    values, notes = coverage_features(shop_report(), added, touched)
    # executable added: cart 10, 11, 12 and pricing 9; covered: cart 10
    assert values["patch_coverage"] == pytest.approx(1 / 4)
    assert values["uncovered_added_lines"] == 3
    # cart 7/9, pricing 3/6
    assert values["touched_files_coverage"] == pytest.approx((7 / 9 + 3 / 6) / 2)
    assert notes == []


def test_features_without_a_report_are_missing():
    values, notes = coverage_features(None, {"a.py": [1]}, ["a.py"])
    assert values == {
        "patch_coverage": None,
        "uncovered_added_lines": None,
        "touched_files_coverage": None,
    }
    assert notes == ["no coverage report for this commit"]


def test_no_added_executable_lines_leaves_patch_coverage_missing():
    added = {"src/shop/cart.py": [13, 14], "docs/guide.md": [1]}
    values, notes = coverage_features(shop_report(), added, ["src/shop/cart.py", "docs/guide.md"])
    assert values["patch_coverage"] is None
    assert values["uncovered_added_lines"] == 0
    assert values["touched_files_coverage"] == pytest.approx(7 / 9)
    assert notes == [
        "patch coverage: no added executable lines; files not in the report (1): docs/guide.md"
    ]


def test_a_change_that_adds_nothing_and_touches_no_reported_file():
    values, notes = coverage_features(shop_report(), {}, ["README.md", "setup.cfg"])
    assert values == {
        "patch_coverage": None,
        "uncovered_added_lines": 0,
        "touched_files_coverage": None,
    }
    assert notes == [
        "patch coverage: the change adds no lines",
        "touched files coverage: changed files not in the report (2): README.md, setup.cfg",
    ]


def test_added_lines_none_of_them_executable_in_reported_files():
    values, notes = coverage_features(shop_report(), {"src/shop/cart.py": [3, 4]}, [])
    assert values["patch_coverage"] is None
    assert notes[0] == "patch coverage: no added executable lines (2 added lines)"


def test_no_touched_files_give_no_mean():
    values, notes = coverage_features(shop_report(), {}, [])
    assert values["touched_files_coverage"] is None
    assert notes[-1] == "touched files coverage: the change touches no files"


def test_touched_files_with_no_executable_lines_give_no_mean():
    report = CoverageReport("lcov", {"empty.py": FileCoverage(frozenset(), frozenset())})
    values, notes = coverage_features(report, {}, ["empty.py"])
    assert values["touched_files_coverage"] is None
    assert notes[-1] == "touched files coverage: no changed file has executable lines in the report"


# -- added lines from a real diff --------------------------------------------------------------

DIFF = """\
diff --git a/src/shop/cart.py b/src/shop/cart.py
index 3b18e51..a9f0c2d 100644
--- a/src/shop/cart.py
+++ b/src/shop/cart.py
@@ -8,4 +8,6 @@ class Cart:
     def total(self):
-        return sum(item.price for item in self.items)
+        subtotal = sum(item.price for item in self.items)
+        # discounts apply after tax
+        return subtotal - self.discount
<blank>
     def add(self, item):
@@ -20,2 +22,3 @@ class Cart:
         self.items.append(item)
         return self
+
diff --git a/src/shop/pricing.py b/src/shop/prices.py
similarity index 90%
rename from src/shop/pricing.py
rename to src/shop/prices.py
index 1111111..2222222 100644
--- a/src/shop/pricing.py
+++ b/src/shop/prices.py
@@ -1,2 +1,2 @@
-RATE = 0.2
+RATE = 0.25
 ROUND = 2
diff --git a/src/shop/new.py b/src/shop/new.py
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/src/shop/new.py
@@ -0,0 +1,2 @@
+def hello():
+    return "hello"
diff --git a/src/shop/old.py b/src/shop/old.py
deleted file mode 100644
index 4444444..0000000
--- a/src/shop/old.py
+++ /dev/null
@@ -1 +0,0 @@
-print("bye")
diff --git a/docs/logo.png b/docs/logo.png
new file mode 100644
index 0000000..5555555
Binary files /dev/null and b/docs/logo.png differ
""".replace("<blank>", " ")


def test_added_line_numbers_are_head_line_numbers():
    assert added_line_numbers(DIFF) == {
        "src/shop/cart.py": [9, 10, 11, 24],
        "src/shop/prices.py": [1],
        "src/shop/new.py": [1, 2],
    }


def test_no_diff_adds_nothing():
    assert added_line_numbers("") == {}


@settings(max_examples=200, deadline=None)
@given(
    files=coverages(),
    added=st.dictionaries(paths, st.lists(st.integers(1, 5000), max_size=40), max_size=6),
    touched=st.lists(paths, max_size=6),
    data=st.data(),
)
def test_patch_coverage_is_a_ratio_and_uncovered_lines_are_bounded(
    files: Lines, added: dict[str, list[int]], touched: list[str], data: st.DataObject
):
    report = CoverageReport(
        "lcov", {p: FileCoverage(frozenset(e), frozenset(c)) for p, (e, c) in files.items()}
    )
    # some added lines that the report knows about, so that coverage is not always missing
    for path, (executable, _) in files.items():
        if executable and data.draw(st.booleans()):
            added[path] = data.draw(st.lists(st.sampled_from(sorted(executable)), max_size=10))
    values, notes = coverage_features(report, added, [*touched, *files])
    patch = values["patch_coverage"]
    assert patch is None or 0.0 <= patch <= 1.0
    uncovered = values["uncovered_added_lines"]
    assert uncovered is not None and 0 <= uncovered <= sum(len(lines) for lines in added.values())
    touched_mean = values["touched_files_coverage"]
    assert touched_mean is None or 0.0 <= touched_mean <= 1.0
    assert (patch is None) == any(note.startswith("patch coverage:") for note in notes)
    assert not any(math.isnan(v) for v in values.values() if v is not None)
