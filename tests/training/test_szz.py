"""Tests for labelling mined changes: SZZ on real git repositories, reverts, service outcomes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gate.features.history import DAY
from tests.gitrepo import GitRepo
from training.label import Outcome, label_table, summary
from training.szz import (
    Commit,
    FixRules,
    Limits,
    blame_fix,
    code_lines,
    comment_style,
    find_fixes,
    log_commits,
)

CODE = (
    "def total(items):\n"
    "    result = 0\n"
    "    for item in items:\n"
    "        result += item\n"
    "    return result\n"
)


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "repo")


def table(repo: GitRepo) -> pd.DataFrame:
    """One row per commit, as `mine` writes them (only the columns labelling needs)."""
    rows = []
    for line in repo.git("log", "--format=%H %ct").splitlines():
        sha, time = line.split()
        rows.append({"sha": sha, "time": int(time), "la": 1.0})
    return pd.DataFrame(rows[::-1])


def labels(repo: GitRepo, **options: object) -> dict[str, tuple[object, str]]:
    options = {"recent_days": 0, "show_progress": False, **options}
    labelled = label_table(repo.path, table(repo), **options)  # type: ignore[arg-type]
    return {
        row.sha: (None if pd.isna(row.bug) else int(row.bug), row.label_rules)
        for row in labelled.itertuples()
    }


def test_a_fix_blames_the_commit_that_wrote_its_deleted_lines(repo: GitRepo) -> None:
    base = repo.commit("add total", {"calc.py": CODE})
    bad = repo.commit("off by one", {"calc.py": CODE.replace("result = 0", "result = 1")})
    other = repo.commit("docs", {"README.md": "hello\n"})
    fix = repo.commit("Fix the total (fixes #12)", {"calc.py": CODE})

    found = labels(repo)

    assert found[bad] == (1, f"szz:{fix}")
    assert found[base] == (0, "")
    assert found[other] == (0, "")
    assert found[fix] == (0, "")


def test_an_issue_key_marks_a_fix_only_when_configured(repo: GitRepo) -> None:
    repo.commit("add total", {"calc.py": CODE})
    bad = repo.commit("rework", {"calc.py": CODE.replace("result = 0", "result = 1")})
    fix = repo.commit("PAY-42 correct the start value", {"calc.py": CODE})

    assert labels(repo)[bad] == (0, "")
    assert labels(repo, issue_pattern=r"\bPAY-\d+\b")[bad] == (1, f"szz:{fix}")


def test_whitespace_only_changes_are_not_blamed(repo: GitRepo) -> None:
    original = repo.commit("add total", {"calc.py": CODE})
    reindent = repo.commit("reindent", {"calc.py": CODE.replace("    return", "    return ")})
    fix = repo.commit(
        "fix: return the sum twice", {"calc.py": CODE.replace("return result", "return 2 * result")}
    )

    found = labels(repo)

    assert found[original] == (1, f"szz:{fix}")  # blame -w looks through the re-indent
    assert found[reindent] == (0, "")


def test_comment_and_blank_lines_are_not_blamed(repo: GitRepo) -> None:
    source = "int f(int x) {\n  /* doubled\n     twice */\n  // note\n\n  return x;\n}\n"
    repo.commit("add f", {"f.c": source})
    commented = repo.commit(
        "comments", {"f.c": source.replace("doubled", "halved").replace("note", "hint")}
    )
    fix = repo.commit(
        "bugfix: drop the comments",
        {"f.c": "int f(int x) {\n  return x;\n}\n"},
    )

    found = labels(repo)

    assert found[commented] == (0, "")
    # nothing but comment and blank lines went: no inducing commit at all
    result = blame_fix(
        repo.path, _commit(repo, fix), None, frozenset(), Limits(max_files=50, max_lines=1000)
    )
    assert result.skipped == "comments-only" and not result.inducing


def test_comment_syntax_by_file_type() -> None:
    c_style = comment_style("src/a.java")
    assert c_style is not None
    block = ["x = 1; // why", "// only", "/* a", " * b", " still */ y = 2;", "*p = 3;"]
    assert code_lines(block, c_style) == [True, False, False, False, True, True]
    hash_style = comment_style("deploy/Dockerfile")
    assert hash_style is not None
    assert code_lines(["# build", "RUN make  # all", "   "], hash_style) == [False, True, False]
    sql = comment_style("db/001.sql")
    assert sql is not None
    assert code_lines(["-- drop", "DROP TABLE t; -- gone"], sql) == [False, True]
    assert comment_style("notes.unknown") is None


def test_ignore_revs_skip_a_reformatting_commit_to_the_original(repo: GitRepo) -> None:
    greet = "def greet():\n    label = 'start'\n    return label\n"
    bad = repo.commit("add greet", {"greet.py": greet})
    reformat = repo.commit("black", {"greet.py": greet.replace("'", '"')})
    fix = repo.commit("fix the label", {"greet.py": greet.replace("'start'", '"begin"')})
    ignore = repo.path.parent / "ignore-revs"
    ignore.write_text(f"# formatting\n{reformat}\n")

    without = labels(repo)
    honoured = labels(repo, ignore_revs=ignore)

    assert without[reformat] == (1, f"szz:{fix}")
    assert without[bad] == (0, "")
    assert honoured[reformat] == (0, "")
    assert honoured[bad] == (1, f"szz:{fix}")


def test_a_fix_that_only_adds_lines_labels_nothing(repo: GitRepo) -> None:
    repo.commit("add total", {"calc.py": CODE})
    repo.commit("feature", {"other.py": "x = 1\n"})
    repo.commit("fix: guard empty input", {"calc.py": CODE + "\nassert total([]) == 0\n"})

    found = labels(repo)

    assert all(label == (0, "") for label in found.values())


def test_a_revert_labels_the_reverted_change(repo: GitRepo) -> None:
    repo.commit("add total", {"calc.py": CODE})
    bad = repo.commit("double", {"calc.py": CODE.replace("+= item", "+= 2 * item")})
    revert = repo.commit(f'Revert "double"\n\nThis reverts commit {bad}.', {"calc.py": CODE})

    found = labels(repo)

    assert found[bad] == (1, f"revert:{revert}")
    assert found[revert] == (0, "")  # a revert is not an SZZ fix of its own


def test_rollbacks_and_incidents_from_the_service_are_merged(repo: GitRepo) -> None:
    base = repo.commit("add total", {"calc.py": CODE})
    bad = repo.commit("off by one", {"calc.py": CODE.replace("result = 0", "result = 1")})
    fix = repo.commit("fix the total", {"calc.py": CODE})

    found = labels(repo, outcomes=[(bad[:10], "rollback"), Outcome(base, "incident", "INC-7")])

    assert found[bad] == (1, f"szz:{fix},rollback")
    assert found[base] == (1, "incident:INC-7")
    with pytest.raises(ValueError, match="rollback"):
        labels(repo, outcomes=[(bad, "flaky")])


def test_recent_changes_stay_unlabelled(repo: GitRepo) -> None:
    start = 1_600_000_000
    old = repo.commit("add total", {"calc.py": CODE}, when=start)
    bad = repo.commit(
        "off by one", {"calc.py": CODE.replace("result = 0", "result = 1")}, when=start + DAY
    )
    recent = repo.commit("feature", {"other.py": "x = 1\n"}, when=start + 200 * DAY)
    fix = repo.commit("fix the total", {"calc.py": CODE}, when=start + 250 * DAY)

    labelled = label_table(repo.path, table(repo), recent_days=90, show_progress=False)
    found = labelled.set_index("sha")

    assert found.loc[old, "bug"] == 0
    assert found.loc[bad, "bug"] == 1
    assert pd.isna(found.loc[recent, "bug"]) and pd.isna(found.loc[fix, "bug"])
    assert (labelled["labelled_until"] == start + 160 * DAY).all()
    assert summary(labelled) == {
        "changes": 4,
        "failing": 1,
        "clean": 1,
        "unlabelled": 2,
        "by_szz": 1,
        "by_revert": 0,
        "by_rollback": 0,
        "by_incident": 0,
    }


def test_a_huge_fix_is_skipped(repo: GitRepo) -> None:
    bad = repo.commit("add", {f"m{n}.py": f"value = {n}\n" for n in range(6)})
    fix = repo.commit("fix everything", {f"m{n}.py": f"value = {n + 1}\n" for n in range(6)})

    assert labels(repo)[bad] == (1, f"szz:{fix}")
    assert labels(repo, max_fix_files=5)[bad] == (0, "")
    assert labels(repo, max_fix_lines=5)[bad] == (0, "")


def test_fix_rules_find_keywords_references_and_not_reverts(repo: GitRepo) -> None:
    rules = FixRules(issue_pattern=r"\bGATE-\d+\b")
    assert rules.is_fix("Fixes #12")
    assert rules.is_fix("Closes #3: handle empty input")
    assert rules.is_fix("GATE-77 handle empty input")
    assert not rules.is_fix("Add a prefix option")
    assert not rules.is_fix('Revert "fix crash"\n\nThis reverts commit abcdef1234.')
    first = repo.commit("fix the root commit")  # a root commit has no parent to blame
    second = repo.commit("bug: second")
    assert [commit.sha for commit in find_fixes(log_commits(repo.path), rules)] == [second]
    assert first != second


def _commit(repo: GitRepo, sha: str) -> Commit:
    return next(commit for commit in log_commits(repo.path) if commit.sha == sha)


def test_label_command_labels_the_mined_table(repo: GitRepo, tmp_path: Path) -> None:
    from gate.cli.training import label_command, mine_command

    repo.commit("add total", {"calc.py": CODE})
    bad = repo.commit("off by one", {"calc.py": CODE.replace("result = 0", "result = 1")})
    fix = repo.commit("fix the total", {"calc.py": CODE})
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text(f"sha,rule,ref\n{bad},rollback,deploy-9\n")

    assert mine_command(repo.path, tmp_path / "mined.parquet") == 0
    assert (
        label_command(
            repo.path,
            tmp_path / "mined.parquet",
            tmp_path / "labelled.parquet",
            recent_days=0,
            outcomes_path=outcomes,
        )
        == 0
    )

    labelled = pd.read_parquet(tmp_path / "labelled.parquet").set_index("sha")
    assert labelled.loc[bad, "label_rules"] == f"szz:{fix},rollback:deploy-9"
    assert labelled["bug"].tolist() == [0, 1, 0]
    assert {"la", "ld", "nf", "exp", "labelled_until"} <= set(labelled.columns)
    assert label_command(repo.path, tmp_path / "nothing.parquet", tmp_path / "x.parquet") == 2
