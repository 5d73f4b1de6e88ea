"""Tests for fix identification: an issue export's bugs, and message words as the fallback."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from tests.gitrepo import GitRepo
from training.fixes import (
    IssueExportError,
    MessageWords,
    find_fixes,
    key_pattern_from,
    read_issue_export,
)
from training.label import label_table
from training.szz import Commit, log_commits

CODE = "def start():\n    value = 0\n    return value\n"


def labels(repo: GitRepo, **options: object) -> dict[str, int]:
    rows = [
        {"sha": sha, "time": int(time), "la": 1.0}
        for sha, time in (line.split() for line in repo.git("log", "--format=%H %ct").splitlines())
    ]
    options = {"recent_days": 0, "show_progress": False, **options}
    labelled = label_table(repo.path, pd.DataFrame(rows[::-1]), **options)  # type: ignore[arg-type]
    return dict(zip(labelled["sha"], labelled["bug"].astype(int), strict=True))


def export(tmp_path: Path, rows: list[tuple[str, str]], kind: str = "csv") -> Path:
    path = tmp_path / f"issues.{kind}"
    if kind == "json":
        path.write_text(json.dumps([{"key": key, "type": type_} for key, type_ in rows]))
    else:
        path.write_text(
            "issue_key,issue_type,priority\n" + "".join(f"{k},{t},Major\n" for k, t in rows)
        )
    return path


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_an_issue_export_makes_fixes_of_commits_naming_its_bugs_only(
    tmp_path: Path, kind: str
) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.commit("add start", {"start.py": CODE, "other.py": "x = 1\n"})
    bad = repo.commit("PAY-9 tune", {"start.py": CODE.replace("= 0", "= 1")})
    improved = repo.commit("tidy other", {"other.py": "x = 2\n"})
    fix = repo.commit("PAY-12: start at zero again", {"start.py": CODE})
    repo.commit("PAY-13 make other clearer", {"other.py": "x = 3\n"})  # an Improvement
    issues = read_issue_export(
        export(tmp_path, [("PAY-12", "Bug"), ("PAY-13", "Improvement"), ("PAY-9", "Task")], kind)
    )

    assert issues.key_pattern == key_pattern_from(["PAY-1"])
    assert [c.sha for c in find_fixes(log_commits(repo.path), issues)] == [fix]
    found = labels(repo, fixes=issues)
    assert found[bad] == 1
    assert found[improved] == 0  # an Improvement's commit blames nothing
    # without the export, message words: "again" and "clearer" are no fix words at all
    assert labels(repo)[bad] == 0


def test_an_export_key_pattern_can_be_given_and_must_compile(tmp_path: Path) -> None:
    path = export(tmp_path, [("GROOVY-1", "Bug"), ("GROOVY-12", "bug")])
    given = read_issue_export(path, r"GROOVY-\d+")
    assert given.bugs == {"GROOVY-1", "GROOVY-12"}
    assert given.keys_in("GROOVY-12 and groovy-123: fixes") == {"GROOVY-12"}
    derived = read_issue_export(path)
    assert derived.keys_in("GROOVY-123 only") == {"GROOVY-123"}  # not GROOVY-12 nor GROOVY-1
    with pytest.raises(IssueExportError, match="pattern"):
        read_issue_export(path, "GROOVY-(")
    bad = tmp_path / "bad.csv"
    bad.write_text("name,priority\nx,Major\n")
    with pytest.raises(IssueExportError, match="key column"):
        read_issue_export(bad)


def test_a_pull_request_merge_line_is_never_a_fix_on_its_own(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.commit("add start", {"start.py": CODE})
    bad = repo.commit("tune the start", {"start.py": CODE.replace("= 0", "= 1")})
    repo.commit(
        "PAY-3 start at zero\n\nCloses #41 from ada/fix-start and squashes the following "
        "commits:\n\n1234abcd [ada] fix typo",
        {"start.py": CODE},
    )
    repo.commit("Merge pull request #42 from bob/bugfix-docs", {"README.md": "docs\n"})
    words = MessageWords()

    assert find_fixes(log_commits(repo.path), words) == []
    assert labels(repo)[bad] == 0
    # the same merge with the fix said in words is one
    assert words.is_fix(Commit("x", "p", 0, "Closes #41 from ada/start\n\nFix a crash"))


def test_pull_request_numbers_in_an_export_follow_the_hash_form(tmp_path: Path) -> None:
    issues = read_issue_export(export(tmp_path, [("#7", "bug"), ("#8", "enhancement")]))
    assert issues.keys_in("Correct the total (#7), see #8") == {"7", "8"}
    assert issues.bugs == {"7"}


@pytest.mark.covers("label --repo --features --out --recent-days --issues --issue-key")
def test_gate_label_takes_an_issue_export(tmp_path: Path) -> None:
    from gate.cli.training import mine_command
    from tests.cli.test_cli import gate

    repo = GitRepo(tmp_path / "repo")
    repo.commit("add start", {"start.py": CODE})
    bad = repo.commit("PAY-9 tune", {"start.py": CODE.replace("= 0", "= 1")})
    repo.commit("PAY-12: start at zero again", {"start.py": CODE})
    mined = tmp_path / "mined.parquet"
    assert mine_command(repo.path, mined) == 0
    issues = export(tmp_path, [("PAY-12", "Bug")])
    args = ["label", "--repo", str(repo.path), "--features", str(mined), "--recent-days", "0"]
    args += ["--issues", str(issues)]

    done = gate(*args, "--out", str(tmp_path / "out.parquet"), cwd=tmp_path)
    broken = gate(*args, "--out", "x.parquet", "--issue-key", "(", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "fixes from: issue export (1 bugs" in done.stdout
    labelled = pd.read_parquet(tmp_path / "out.parquet").set_index("sha")
    assert labelled.loc[bad, "bug"] == 1
    assert broken.returncode == 2 and "issue key pattern" in broken.stderr


def test_the_last_real_commit_naming_a_bug_is_its_fix(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.commit("add start", {"start.py": CODE, "other.py": "x = 1\n"})
    other = repo.commit("tidy other", {"other.py": "x = 2\n"})
    bad = repo.commit("tune", {"start.py": CODE.replace("= 0", "= 1")})
    repo.commit("PAY-12: first attempt", {"other.py": "x = 3\n"})
    repo.commit("PAY-12: start at zero", {"start.py": CODE})
    docs = repo.commit("PAY-12: document it", {"docs/start.md": "zero\n"})  # docs only
    issues = read_issue_export(export(tmp_path, [("PAY-12", "Bug")]))

    # by messages alone the docs commit is the last; labelling drops it as mechanical first
    assert [c.sha for c in find_fixes(log_commits(repo.path), issues)] == [docs]
    found = labels(repo, fixes=issues)
    assert found[bad] == 1
    assert found[other] == 0  # the first attempt is no fix of its own
    every = replace(issues, per_issue="all")
    assert labels(repo, fixes=every)[other] == 1
