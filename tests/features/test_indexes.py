"""History indexes: no git work when nothing was pushed, and several processes share one file."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.features import indexes as indexes_module
from gate.features.history import load_index
from gate.features.indexes import HistoryIndexes
from tests.gitrepo import GitRepo, lines


@pytest.fixture
def mirror(tmp_path: Path) -> tuple[GitRepo, Path]:
    """A repository with three commits and a bare mirror of it."""
    repo = GitRepo(tmp_path / "repo")
    for n in range(3):
        repo.commit(f"c{n}", {f"f{n}.py": lines(n + 1)})
    path = tmp_path / "mirror.git"
    repo.git("clone", "--quiet", "--bare", str(repo.path), str(path))
    return repo, path


def push(repo: GitRepo, mirror: Path, message: str) -> str:
    sha = repo.commit(message, {f"{message}.py": lines(2)})
    repo.git("push", "--quiet", str(mirror), "master")
    return sha


def test_an_unmoved_branch_costs_no_git_run(mirror, monkeypatch: pytest.MonkeyPatch):
    repo, path = mirror
    indexes = HistoryIndexes()
    assert len(indexes.update(path, "master")) == 3
    runs: list[tuple[str, ...]] = []
    real_git = indexes_module.git
    monkeypatch.setattr(indexes_module, "git", lambda *a, **k: runs.append(a) or real_git(*a, **k))
    for _ in range(3):
        assert len(indexes.update(path, "master")) == 3
    assert runs == []
    new = push(repo, path, "c3")
    index = indexes.update(path, "master")
    assert new in index and len(index) == 4 and runs  # a push is noticed


def test_two_processes_share_one_index_file(mirror):
    repo, path = mirror
    first, second = HistoryIndexes(), HistoryIndexes()  # as two service processes would
    first.update(path, "master")
    second.update(path, "master")
    by_first = push(repo, path, "c3")
    first.update(path, "master")
    by_second = push(repo, path, "c4")
    index = second.update(path, "master")
    assert by_first in index and by_second in index and len(index) == 5
    index = first.update(path, "master")
    assert by_second in index and len(index) == 5
    written = HistoryIndexes.file_for(path).read_text().splitlines()
    assert len(written) == 5  # each commit once, whoever indexed it
    assert len(load_index(HistoryIndexes.file_for(path))) == 5
