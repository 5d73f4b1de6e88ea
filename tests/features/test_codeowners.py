"""CODEOWNERS parsing and matching, case by case against GitHub's documented semantics."""

from __future__ import annotations

import pytest

from gate.features.codeowners import (
    CODEOWNERS_LOCATIONS,
    MAX_CODEOWNERS_BYTES,
    CodeOwners,
    PathPattern,
    PatternError,
    is_valid_owner,
)

# A realistic file for a monorepo: defaults, per-service teams, a deliberately unowned subtree.
MONOREPO = """\
# Default reviewers for anything not listed below.
*                               @acme/platform

# Services
/services/payments/             @acme/payments @acme/security
/services/search/               @acme/search
/services/payments/fixtures/    @acme/payments

# Generated code: anyone with write access may approve.
/services/search/generated/

# Infrastructure and CI
/deploy/                        @acme/sre
*.tf                            @acme/sre   # terraform anywhere
/.github/workflows/             @acme/sre @octocat

# Docs: files directly in docs/ go to the writers; deeper pages stay with their teams.
/docs/*                         docs@acme.example
**/migrations                   @acme/dba
"""


def owners(text: str, path: str) -> list[str]:
    return CodeOwners.parse(text).owners_for(path)


def matches(pattern: str, path: str) -> bool:
    return PathPattern.compile(pattern).matches(path)


def test_the_monorepo_example():
    codeowners = CodeOwners.parse(MONOREPO)
    assert codeowners.errors == ()
    assert codeowners.owners_for("README.md") == ["@acme/platform"]
    assert codeowners.owners_for("services/payments/api/charge.py") == [
        "@acme/payments",
        "@acme/security",
    ]
    assert codeowners.owners_for("services/payments/fixtures/card.json") == ["@acme/payments"]
    assert codeowners.owners_for("services/search/index.py") == ["@acme/search"]
    assert codeowners.owners_for("services/search/generated/pb2.py") == []
    assert codeowners.owners_for("services/search/infra/main.tf") == ["@acme/sre"]
    assert codeowners.owners_for(".github/workflows/ci.yml") == ["@acme/sre", "@octocat"]
    assert codeowners.owners_for("docs/index.md") == ["docs@acme.example"]
    assert codeowners.owners_for("docs/api/errors.md") == ["@acme/platform"]
    assert codeowners.owners_for("services/payments/migrations/0001.sql") == ["@acme/dba"]


def test_the_rule_that_matched_is_exposed_with_its_line():
    rule = CodeOwners.parse(MONOREPO).rule_for("services/search/generated/pb2.py")
    assert rule is not None and rule.owners == () and rule.line == 10
    assert rule.pattern.text == "/services/search/generated/"
    assert CodeOwners.parse("/docs/ @a\n").rule_for("src/main.py") is None


def test_github_documentation_examples():
    text = """\
*       @global-owner1 @global-owner2
*.js    @js-owner #This is an inline comment.
*.go docs@example.com
*.txt @octo-org/octocats
/build/logs/ @doctocat
docs/*  docs@example.com
apps/ @octocat
/docs/ @doctocat
/scripts/ @doctocat @octocat
**/logs @octocat
/apps/ @octocat
/apps/github
"""
    codeowners = CodeOwners.parse(text)
    assert codeowners.errors == ()
    assert codeowners.owners_for("lib/thing.rb") == ["@global-owner1", "@global-owner2"]
    assert codeowners.owners_for("src/app.js") == ["@js-owner"]
    assert codeowners.owners_for("main.go") == ["docs@example.com"]
    assert codeowners.owners_for("notes/a.txt") == ["@octo-org/octocats"]
    assert codeowners.owners_for("build/logs/today/x.log") == ["@octocat"]  # **/logs is later
    assert codeowners.owners_for("scripts/deploy.sh") == ["@doctocat", "@octocat"]
    assert codeowners.owners_for("deeply/nested/logs/a") == ["@octocat"]
    assert codeowners.owners_for("web/apps/index.html") == ["@octocat"]
    assert codeowners.owners_for("apps/main/index.html") == ["@octocat"]
    assert codeowners.owners_for("apps/github/index.html") == []


# pattern -> {path: matches}
CASES: dict[str, dict[str, bool]] = {
    # no slash: any depth, the file itself or everything in a directory of that name
    "docs": {"docs": True, "docs/a.md": True, "src/docs/a.md": True, "docs.md": False},
    "*.js": {"a.js": True, "src/lib/a.js": True, "a.jsx": False, "a.js.map": False},
    "*": {"a": True, "src/a/b.py": True},
    # leading slash: anchored to the root
    "/docs": {"docs": True, "docs/a/b.md": True, "src/docs/a.md": False},
    "/*": {"Makefile": True, "src/a.py": False},
    # a middle slash anchors too
    "src/app": {"src/app/x.py": True, "src/app": True, "lib/src/app/x.py": False},
    "src/*.py": {"src/a.py": True, "src/sub/a.py": False, "lib/src/a.py": False},
    # trailing slash: a directory and everything under it, never a file of that name
    "apps/": {"apps/a": True, "apps/a/b/c": True, "web/apps/a": True, "apps": False},
    "/build/logs/": {"build/logs/a": True, "build/logs/a/b": True, "x/build/logs/a": False},
    # `*` does not cross a slash; a lone `*` at the end means files directly inside
    "docs/*": {"docs/a.md": True, "docs/build/a.md": False, "docs": False},
    "/f*": {"foo": True, "foo/bar/baz": True, "bar/foo": False},
    "foo/*/baz": {"foo/bar/baz": True, "foo/bar/baz/qux": True, "foo/a/b/baz": False},
    # `**` crosses slashes, including none at all
    "**/logs": {"logs/a": True, "a/b/logs/c": True, "a/logsx/c": False},
    "docs/**": {"docs/a.md": True, "docs/a/b/c.md": True, "docs": False, "x/docs/a": False},
    "a/**/b": {"a/b": True, "a/x/b": True, "a/x/y/b/z": True, "x/a/b": False},
    "**": {"anything/at/all": True},
    "a/**/*.sql": {"a/x.sql": True, "a/b/c/x.sql": True, "a/b/c/x.py": False},
    # `?` is one character other than a slash
    "v?.txt": {"v1.txt": True, "v10.txt": False, "v/.txt": False},
    # backslash escapes: a literal star and an escaped space
    "f\\*o": {"f*o": True, "foo": False},
    "my\\ file": {"my file": True, "myfile": False},
    # paths are case sensitive
    "/Docs/": {"Docs/a": True, "docs/a": False},
    # a lone "/" matches nothing
    "/": {"a": False, "a/b": False},
}


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [(pattern, path, hit) for pattern, paths in CASES.items() for path, hit in paths.items()],
)
def test_pattern_semantics(pattern: str, path: str, expected: bool):
    assert matches(pattern, path) is expected


def test_a_leading_slash_on_the_path_is_ignored():
    assert matches("/docs/", "/docs/a.md")


def test_the_last_matching_rule_wins():
    text = "*.py @py\n/src/ @src\n"
    assert owners(text, "src/a.py") == ["@src"]
    assert owners(text, "lib/a.py") == ["@py"]
    reversed_text = "/src/ @src\n*.py @py\n"
    assert owners(reversed_text, "src/a.py") == ["@py"]


def test_a_line_without_owners_clears_ownership():
    text = "* @everyone\n/vendor/\n"
    assert owners(text, "app.py") == ["@everyone"]
    assert owners(text, "vendor/lib/x.c") == []
    rule = CodeOwners.parse(text).rule_for("vendor/lib/x.c")
    assert rule is not None and rule.owners == ()  # matched, unlike a path no rule matches


def test_comments_blank_lines_crlf_and_a_byte_order_mark():
    text = "\ufeff# owners\r\n\r\n   \r\n  # indented comment\r\n/src/ @a @org/b  # trailing\r\n"
    codeowners = CodeOwners.parse(text)
    assert codeowners.errors == ()
    assert len(codeowners.rules) == 1
    assert codeowners.rules[0].line == 5
    assert codeowners.owners_for("src/x") == ["@a", "@org/b"]


def test_a_hash_inside_a_pattern_is_not_a_comment():
    assert owners("docs/c#/ @dotnet\n", "docs/c#/intro.md") == ["@dotnet"]


def test_invalid_lines_are_skipped_and_reported_with_line_numbers():
    text = """\
* @everyone
!/src/legacy/ @nobody
/src/*.[ch] @c-team
\\#notes @notes
/lib/ not-an-owner
/src/ @src
a***b @x
"""
    codeowners = CodeOwners.parse(text)
    assert [error.line for error in codeowners.errors] == [2, 3, 4, 5, 7]
    messages = [str(error) for error in codeowners.errors]
    assert "negation" in messages[0] and messages[0].startswith("line 2: ")
    assert "character ranges" in messages[1]
    assert "escaping a leading #" in messages[2]
    assert "'not-an-owner'" in messages[3]
    assert "asterisks" in messages[4]
    assert codeowners.errors[0].text == "!/src/legacy/ @nobody"
    # the valid lines still apply; the skipped ones do not
    assert [rule.line for rule in codeowners.rules] == [1, 6]
    assert codeowners.owners_for("src/legacy/a.py") == ["@src"]
    assert codeowners.owners_for("src/x.c") == ["@src"]
    assert codeowners.owners_for("#notes") == ["@everyone"]
    assert codeowners.owners_for("lib/a.py") == ["@everyone"]


@pytest.mark.parametrize("text", ["", "\n\n", "# only comments\n", "\\", "[", "\x00 @a", "! @a"])
def test_never_raises_on_odd_text(text: str):
    CodeOwners.parse(text).owners_for("a/b.py")


def test_a_file_of_3_mb_or_more_is_ignored_as_github_does():
    text = "* @everyone\n" + "#" * MAX_CODEOWNERS_BYTES
    codeowners = CodeOwners.parse(text)
    assert codeowners.rules == ()
    assert [error.line for error in codeowners.errors] == [0]
    assert "3 MB" in str(codeowners.errors[0])


@pytest.mark.parametrize(
    ("owner", "valid"),
    [
        ("@octocat", True),
        ("@octo-org/octocats", True),
        ("@org/team_name.v2", True),
        ("docs@example.com", True),
        ("octocat", False),
        ("@", False),
        ("@org/", False),
        ("#comment", False),
        ("@a/b/c", False),
    ],
)
def test_owner_forms(owner: str, valid: bool):
    assert is_valid_owner(owner) is valid


def test_invalid_patterns_raise_pattern_error_when_compiled_directly():
    for pattern in ["!x", "a[bc]", "", "x\\", "a/***/b"]:
        with pytest.raises(PatternError):
            PathPattern.compile(pattern)


def test_locations_in_githubs_order():
    assert CODEOWNERS_LOCATIONS == (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
