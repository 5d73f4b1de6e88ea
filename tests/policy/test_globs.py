"""`always_hold:` and `never_hold:`: globs checked on their lines, matched as in CODEOWNERS."""

from __future__ import annotations

import time

import pytest

from gate.policy.globs import matches_any
from tests.policy.policy_text import the_error, valid


def test_hold_globs():
    policy = valid('always_hold: ["**/migrations/**", db/schema.sql]\nnever_hold:\n  - docs/\n')
    assert policy.always_hold == ("**/migrations/**", "db/schema.sql")
    assert policy.never_hold == ("docs/",)


@pytest.mark.parametrize(
    ("glob", "message"),
    [
        ('"!docs/"', "'!docs/': negation (!) is not supported (CODEOWNERS syntax)"),
        ('"a/***"', "'a/***': three consecutive asterisks are not a valid pattern"),
        ('""', "'': empty pattern"),
    ],
)
def test_a_bad_glob_is_reported_on_its_line(glob: str, message: str):
    assert the_error(f"never_hold:\n  - docs/\n  - {glob}\n") == (3, "never_hold[1]", message)


def test_hold_globs_must_be_a_list_of_text():
    assert the_error("always_hold: migrations/\n") == (
        1,
        "always_hold",
        "expected a list, got 'migrations/'",
    )
    assert the_error("always_hold:\n  - 12\n") == (
        2,
        "always_hold[0]",
        "expected text, got 12",
    )


def test_matches_any_returns_the_matching_paths_in_order():
    paths = ["app/db/migrations/0001.py", "docs/a.md", "README.md", "src/x.py"]
    assert matches_any(["**/migrations/**"], paths) == ["app/db/migrations/0001.py"]
    assert matches_any(["docs/", "*.md"], paths) == ["docs/a.md", "README.md"]
    assert matches_any([], paths) == []
    assert matches_any(["src/"], []) == []


def test_the_docs_glob_table():
    paths = ["docs/a.md", "web/docs/b.txt", "docs/x/y.md", "a/b/c.md", "db/migrations/1.sql"]
    assert matches_any(["docs/"], paths) == ["docs/a.md", "web/docs/b.txt", "docs/x/y.md"]
    assert matches_any(["/docs/"], paths) == ["docs/a.md", "docs/x/y.md"]
    assert matches_any(["docs/*"], paths) == ["docs/a.md"]
    assert matches_any(["*.md"], paths) == ["docs/a.md", "docs/x/y.md", "a/b/c.md"]
    assert matches_any(["**/migrations/**"], paths) == ["db/migrations/1.sql"]
    assert matches_any(["src/app.py"], ["src/app.py", "src/app.py/x", "lib/src/app.py"]) == [
        "src/app.py",
        "src/app.py/x",
    ]


def test_a_glob_too_long_or_with_too_many_stars_is_reported():
    assert the_error(f"always_hold:\n  - {'a' * 513}\n")[2].endswith(
        "pattern longer than 512 characters"
    )
    assert the_error(f'always_hold:\n  - "{"*a" * 33}"\n')[2].endswith(
        "more than 32 asterisks in one pattern"
    )


def test_a_hostile_glob_against_a_hostile_path_answers_at_once():
    started = time.perf_counter()
    held = matches_any(["*a*a*a*a*a*a*b", "*a" * 20 + "*b"], ["a" * 80, "src/" + "a" * 1000])
    assert held == [] and time.perf_counter() - started < 1.0  # backtracking took 14.7 s
