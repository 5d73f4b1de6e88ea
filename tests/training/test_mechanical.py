"""Tests for huge and mechanical commits: neither fixes nor blamed, on real git repositories."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.gitrepo import GitRepo
from training.fixes import read_issue_export
from training.label import label_table
from training.mechanical import MAX_FILES, Size, commit_sizes, is_source, mechanical_reason

CODE = "def start():\n    value = 0\n    return value\n"


def labelled(repo: GitRepo, **options: object) -> pd.DataFrame:
    rows = [
        {"sha": sha, "time": int(time), "la": 1.0}
        for sha, time in (line.split() for line in repo.git("log", "--format=%H %ct").splitlines())
    ]
    options = {"recent_days": 0, "show_progress": False, **options}
    return label_table(repo.path, pd.DataFrame(rows[::-1]), **options).set_index("sha")  # type: ignore[arg-type]


def test_a_huge_reformatting_is_neither_blamed_nor_a_fix(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    generated = {f"gen/m{n}.py": f"value = {n}\n" for n in range(MAX_FILES)}
    repo.commit("add", {"start.py": CODE, **generated})
    bad = repo.commit("tune", {"start.py": CODE.replace("value = 0", "value = 1")})
    reformat = repo.commit(
        "format everything, fixes PAY-2",
        {
            "start.py": CODE.replace("value = 0", "value = (1)"),
            **{name: text.replace(" = ", "=") for name, text in generated.items()},
        },
    )
    fix = repo.commit("PAY-1 start at zero", {"start.py": CODE})
    issues = tmp_path / "issues.csv"
    issues.write_text("key,type\nPAY-1,Bug\nPAY-2,Bug\n")

    found = labelled(repo, fixes=read_issue_export(issues))

    # blame looks through the reformatting to the change that set the wrong value
    assert found.loc[bad, "label_rules"] == f"szz:{fix}"
    assert found.loc[reformat, "bug"] == 0
    # and it names a bug, but it is no fix: nothing it touched is blamed
    assert f"szz:{reformat}" not in ",".join(found["label_rules"])


def test_a_commit_of_only_non_source_files_is_no_fix(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    docs = repo.commit("add docs", {"docs/guide.md": "step one\n", "start.py": CODE})
    repo.commit("fix the docs", {"docs/guide.md": "step 1\n"})

    assert labelled(repo).loc[docs, "bug"] == 0
    assert mechanical_reason(commit_sizes(repo.path, [docs])[docs]) is None  # it has source too


def test_sizes_count_files_and_lines_against_the_first_parent(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    root = repo.commit("add", {"a.py": "1\n2\n", "b.md": "x\n"})
    second = repo.commit("change", {"a.py": "1\n3\n4\n", "b.md": None})

    sizes = commit_sizes(repo.path, [second, root])

    assert sizes[root] == Size(("a.py", "b.md"), 3)
    assert sizes[second] == Size(("a.py", "b.md"), 4)  # +2 -1 in a.py, -1 in b.md


def test_what_counts_as_source() -> None:
    assert is_source("src/main/java/org/App.java")
    assert is_source("Makefile")
    assert is_source("config/service.yaml")  # a config change can break a service
    assert not is_source("README.md")
    assert not is_source("LICENSE")
    assert not is_source("vendor/github.com/x/y.go")
    assert not is_source("web/static/app.min.js")
    assert not is_source("package-lock.json")
    assert mechanical_reason(Size(("a.py",), 10_001)) == "huge"
    assert mechanical_reason(Size(("a.md", "docs/b.png"), 5)) == "no-source"
    assert mechanical_reason(Size(("a.py", "b.json"), None)) is None
