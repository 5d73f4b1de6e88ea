"""`gate mine`, `label`, `train`, `models` and `evaluate` as a user runs them on a small real
repository, and a short message for each wrong input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.contract import assert_clear_error, env_for, small_repo
from tests.conftest import gate
from tests.gitrepo import GitRepo


@pytest.fixture
def mined(tmp_path: Path) -> tuple[GitRepo, Path]:
    repo = small_repo(tmp_path / "shop")
    out = tmp_path / "mined.parquet"
    done = gate("mine", "--repo", str(repo.path), "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return repo, out


@pytest.mark.covers(
    "mine --repo --out", "label --repo --features --out --recent-days --ignore-revs --json"
)
def test_mine_then_label_with_an_ignore_revs_file(mined: tuple[GitRepo, Path], tmp_path: Path):
    repo, table = mined
    (tmp_path / "ignore-revs").write_text("")
    done = gate(
        "label", "--repo", str(repo.path), "--features", str(table), "--out", "l.parquet",
        "--recent-days", "0", "--ignore-revs", str(tmp_path / "ignore-revs"), "--json",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["table"] == "l.parquet" and sum(summary["labels"].values()) >= 3
    assert (tmp_path / "l.parquet").is_file()


@pytest.mark.covers("label --repo --features --out --outcomes")
def test_label_refuses_a_table_that_is_not_outcomes(mined: tuple[GitRepo, Path], tmp_path: Path):
    repo, table = mined
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    args = ("label", "--repo", str(repo.path), "--features", str(table), "--out", "x.parquet")
    done = gate(*args, "--outcomes", "bad.csv", cwd=tmp_path)
    assert_clear_error(done, 2, "bad.csv", "sha and rule", "gate outcomes", max_lines=1)


@pytest.mark.covers("label --repo --features --out --github-token --bug-labels --repository")
def test_label_from_github_needs_to_know_the_repository(mined, tmp_path: Path):
    repo, table = mined
    args = ("label", "--repo", str(repo.path), "--features", str(table), "--out", "x.parquet")
    done = gate(*args, "--github-token", "t", "--bug-labels", "bug", cwd=tmp_path)
    assert_clear_error(done, 2, "--repository")
    bad = gate(*args, "--github-token", "t", "--repository", "shop", cwd=tmp_path)
    assert_clear_error(bad, 2, "shop")


@pytest.mark.covers("train --out")
def test_train_on_an_unlabelled_table_points_to_gate_label(mined, tmp_path: Path):
    _, table = mined
    done = gate("train", str(table), "--out", "model", cwd=tmp_path)
    assert_clear_error(done, 2, "not labelled", "gate label", max_lines=1)
    assert not (tmp_path / "model").exists()


@pytest.mark.covers("train --repo --promote --outcomes --github-token --bug-labels --issue-key")
def test_train_repo_of_a_local_clone_asks_for_its_name(tmp_path: Path):
    clone = small_repo(tmp_path / "flask", origin=str(tmp_path / "repos" / "flask"))
    env = env_for(tmp_path)
    done = gate("train", "--repo", str(clone.path), cwd=tmp_path, env=env)
    assert_clear_error(done, 2, "--repository", max_lines=1)
    assert not (tmp_path / "models").exists()
    args = ("train", "--repo", str(clone.path), "--repository", "octo-org/flask")
    promote = gate(*args, "--promote", "sometimes", cwd=tmp_path, env=env)
    assert_clear_error(promote, 2, "--promote", "auto or never")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    outcomes = gate(*args, "--outcomes", "bad.csv", cwd=tmp_path, env=env)
    assert_clear_error(outcomes, 2, "sha and rule")
    (tmp_path / "issues.csv").write_text("issue_key,issue_type\nPAY-1,Bug\n")
    key = gate(*args, "--issues", "issues.csv", "--issue-key", "(", cwd=tmp_path, env=env)
    assert_clear_error(key, 2, "issue key pattern")
    token = gate(
        "train", "--repo", str(clone.path), "--github-token", "t", "--bug-labels", "bug",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert_clear_error(token, 2, "--repository")


@pytest.mark.covers("train --dask-scheduler", "train --data-dir --out", "evaluate")
def test_train_and_evaluate_name_a_missing_input(tmp_path: Path):
    dask = gate("train", "missing.parquet", "--dask-scheduler", "tcp://127.0.0.1:1", cwd=tmp_path)
    assert_clear_error(dask, 2, "missing.parquet")
    data = gate("train", "--data-dir", "nowhere", "--out", "m", cwd=tmp_path)
    assert_clear_error(data, 2, "nowhere")
    evaluate = gate("evaluate", "--model", "nowhere", "--table", "t.parquet", cwd=tmp_path)
    assert_clear_error(evaluate, 2, "t.parquet")
    alone = gate("evaluate", cwd=tmp_path)
    assert_clear_error(alone, 2, "--model", "--table")


@pytest.mark.covers("models --repository --json", "models --repository")
def test_models_of_a_repository_without_any(tmp_path: Path):
    env = env_for(tmp_path)
    listed = gate("models", "--repository", "octo-org/shop", "--json", cwd=tmp_path, env=env)
    assert listed.returncode == 0 and json.loads(listed.stdout) == [], listed.stderr
    table = gate("models", "--repository", "octo-org/shop", cwd=tmp_path, env=env)
    assert table.returncode == 0 and "default model" in table.stdout
