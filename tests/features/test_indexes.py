"""History indexes: no git work when nothing was pushed, and several processes share one file."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.features import indexes as indexes_module
from gate.features.diff import FileChange
from gate.features.gitlog import iter_records
from gate.features.history import HistoryIndex, MessageRules, change_of, load_index
from gate.features.indexes import HistoryIndexes, local_index
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


# local repositories (`gate assess`) ---------------------------------------------------------


def history(repo: GitRepo) -> list[str]:
    """A history with renames, a fix and a revert, on two branches."""
    first = repo.commit("start", {"app/a.py": lines(5), "app/b.py": lines(3)})
    repo.git("mv", "app/b.py", "app/c.py")
    repo.commit("move b", {"app/a.py": lines(6)}, author="Bo <bo@example.com>")
    fix = repo.commit("fix a crash", {"app/c.py": lines(4)})
    repo.commit(f'Revert "fix"\n\nThis reverts commit {fix}.', {"app/c.py": lines(3)})
    repo.branch("side", first)
    repo.checkout("side")
    repo.commit("side work", {"app/a.py": lines(9), "lib/x.py": lines(2)})
    repo.checkout("master")
    return [repo.git("rev-parse", "master").strip(), repo.git("rev-parse", "side").strip()]


def fresh(repo: Path, revisions: list[str]) -> HistoryIndex:
    index = HistoryIndex()
    for record in iter_records(repo, revisions, MessageRules()):
        index.add(record)
    return index


def same_index(one: HistoryIndex, other: HistoryIndex) -> bool:
    change = change_of(2_000_000_000, "ada@example.com", "more", [FileChange("app/a.py", 1, 0, 1)])
    features = [index.features(change, MessageRules()) for index in (one, other)]
    return list(one.records()) == list(other.records()) and features[0] == features[1]


def test_a_local_index_is_the_fresh_index_of_exactly_the_commits_asked_for(tmp_path: Path):
    repo = GitRepo(tmp_path / "repo")
    master, side = history(repo)
    for revisions in ([master], [side], [master], [f"{master}~1"], []):
        index = local_index(repo.path, revisions, MessageRules())
        assert same_index(index, fresh(repo.path, revisions)), revisions
    assert "side work" not in {r.sha for r in fresh(repo.path, [master]).records()}


def test_a_warm_local_index_asks_git_only_for_new_commits(tmp_path: Path, monkeypatch):
    repo = GitRepo(tmp_path / "repo")
    master, _ = history(repo)
    asked: list[int] = []
    real = indexes_module.records_of
    monkeypatch.setattr(
        indexes_module,
        "records_of",
        lambda r, commits, rules: asked.append(len(commits)) or real(r, commits, rules),
    )
    local_index(repo.path, [master], MessageRules())
    local_index(repo.path, [master], MessageRules())
    new = repo.commit("next", {"app/a.py": lines(7)})
    index = local_index(repo.path, [new], MessageRules())
    assert asked == [4, 1]
    assert same_index(index, fresh(repo.path, [new]))


def test_the_local_index_lives_in_the_git_directory_not_the_work_tree(tmp_path: Path):
    repo = GitRepo(tmp_path / "repo")
    master, _ = history(repo)
    local_index(repo.path, [master], MessageRules())
    assert repo.git("status", "--porcelain", "--ignored") == ""
    (stored,) = (repo.path / ".git" / "riskgate").glob("history-*.jsonl")
    assert len(stored.read_text().splitlines()) == 4


def test_a_torn_last_line_is_read_again_and_the_file_mended(tmp_path: Path):
    repo = GitRepo(tmp_path / "repo")
    master, side = history(repo)
    local_index(repo.path, [master], MessageRules())
    (stored,) = (repo.path / ".git" / "riskgate").glob("history-*.jsonl")
    stored.write_text(stored.read_text()[:-20])  # a crash in the middle of the last record
    assert same_index(local_index(repo.path, [master], MessageRules()), fresh(repo.path, [master]))
    assert same_index(local_index(repo.path, [side], MessageRules()), fresh(repo.path, [side]))
    written = stored.read_text().splitlines()
    assert len(written) == 6 and len({line.split(",")[0] for line in written[-2:]}) == 2


def test_other_message_rules_keep_their_own_local_index(tmp_path: Path):
    repo = GitRepo(tmp_path / "repo")
    master, _ = history(repo)
    default = local_index(repo.path, [master], MessageRules())
    strict = local_index(repo.path, [master], MessageRules(r"\bcrash\b"))
    assert len(list((repo.path / ".git" / "riskgate").glob("history-*.jsonl"))) == 2
    assert [r.is_fix for r in default.records()] == [
        r.is_fix for r in fresh(repo.path, [master]).records()
    ]
    assert sum(r.is_fix for r in strict.records()) == 1


def test_a_large_first_build_writes_gits_commit_graph_once(tmp_path: Path, monkeypatch):
    repo = GitRepo(tmp_path / "repo")
    master, _ = history(repo)
    monkeypatch.setattr(indexes_module, "LARGE_BUILD", 3)
    graph = repo.path / ".git" / "objects" / "info" / "commit-graph"
    local_index(repo.path, [f"{master}~2"], MessageRules())  # two commits: not large
    assert not graph.exists()
    local_index(repo.path, [master], MessageRules())  # two more: still not
    assert not graph.exists()
    (repo.path / ".git" / "riskgate").rename(tmp_path / "dropped")
    index = local_index(repo.path, [master], MessageRules())
    assert graph.exists() and same_index(index, fresh(repo.path, [master]))
