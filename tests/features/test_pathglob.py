"""The linear-time glob matcher: the old regex semantics, bounds, and no backtracking blow-up."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.features.pathglob import MAX_PATTERN_CHARS, MAX_STARS, PatternError, compile_glob
from tests.features.glob_oracle import reference_matches

patterns = st.text(alphabet="ab*?/\\.", min_size=1, max_size=12)
paths = st.text(alphabet="ab/*?.\\", max_size=14)


@settings(max_examples=1500, deadline=None)
@given(patterns, paths)
def test_agrees_with_the_regex_translation(pattern: str, path: str):
    try:
        expected = reference_matches(pattern, path)
    except PatternError:
        with pytest.raises(PatternError):
            compile_glob(pattern)
        return
    assert compile_glob(pattern).matches(path.lstrip("/")) is expected


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.sampled_from(["**", "*", "a*", "*b", "a?b", "?", "ab", "*a*b*", ""]), max_size=5),
    st.lists(st.sampled_from(["", "a", "b", "ab", "aab", "bab", "abab"]), min_size=1, max_size=6),
    st.booleans(),
)
def test_agrees_on_segment_shaped_patterns(segments: list[str], parts: list[str], rooted: bool):
    pattern = ("/" if rooted else "") + "/".join(segments)
    path = "/".join(parts).lstrip("/")
    if not pattern or "***" in pattern:
        return
    assert compile_glob(pattern).matches(path) is reference_matches(pattern, path)


def _fastest(pattern: str, path: str, runs: int = 5) -> tuple[float, bool]:
    glob = compile_glob(pattern)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        matched = glob.matches(path)
        timings.append(time.perf_counter() - started)
    return min(timings), matched


@pytest.mark.parametrize(
    ("pattern", "path"),
    [
        ("*a" * 20 + "*b", "a" * 1000),
        ("**/" + "*a" * 19 + "*b", "a/" * 200 + "a" * 600),
        ("/" + "*a*/**/" * 6 + "*b", ("a" * 9 + "/") * 100),
        ("?*" * 20, "a" * 1000),
    ],
    ids=["one-segment", "deep", "alternating", "question-marks"],
)
def test_twenty_stars_against_a_1000_character_path_take_under_10_ms(pattern, path):
    assert len(path) >= 1000 and pattern.count("*") >= 20
    elapsed, _matched = _fastest(pattern, path)
    assert elapsed < 0.010, f"{elapsed * 1000:.1f} ms"


def test_the_pathological_pattern_still_gives_the_right_answer():
    assert not compile_glob("*a*a*a*a*a*a*b").matches("a" * 80)
    assert compile_glob("*a*a*a*a*a*a*b").matches("a" * 80 + "b")
    assert compile_glob("*a*a*a*a*a*a*b").matches("src/" + "a" * 80 + "b")


def test_pattern_length_and_stars_are_bounded():
    compile_glob("a" * MAX_PATTERN_CHARS)
    compile_glob("*a" * MAX_STARS)
    with pytest.raises(PatternError, match="longer than"):
        compile_glob("a" * (MAX_PATTERN_CHARS + 1))
    with pytest.raises(PatternError, match="asterisks"):
        compile_glob("*a" * (MAX_STARS + 1))
