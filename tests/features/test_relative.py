"""Features relative to the repository's own history: values by hand, and served as mined."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.features.assemble import line_shares
from gate.features.compute import compute_features
from gate.features.gitlog import iter_records
from gate.features.history import DAY, Change, CommitRecord, HistoryIndex, MessageRules
from gate.features.relative import RECENT_COMMITS
from gate.git.cmd import first_parent
from tests.gitrepo import GitRepo, lines
from training.mine import mine

T0 = 1_700_000_000
ADA, BOB, CY = "ada@example.com", "bob@example.com", "cy@example.com"


def record(sha: str, day: int, author: str, files: int) -> CommitRecord:
    paths = tuple(f"src/{sha}_{n}.py" for n in range(files))
    return CommitRecord(sha, T0 + day * DAY, author, False, None, paths)


def change(day: int, author: str, files: int) -> Change:
    paths = [f"src/new_{n}.py" for n in range(files)]
    return Change(T0 + day * DAY, author, "a change", paths, paths)


@pytest.fixture
def index() -> HistoryIndex:
    built = HistoryIndex()
    # added newest first, as git log gives them: the index must not care
    for sha, day, author, files in reversed(
        [("a", 0, ADA, 1), ("b", 1, ADA, 3), ("c", 2, BOB, 2), ("d", 3, BOB, 1), ("e", 3, CY, 4)]
    ):
        built.add(record(sha, day, author, files))
    return built


def test_files_changed_rank_among_earlier_commits_by_hand(index: HistoryIndex) -> None:
    rules = MessageRules()
    # before day 3: a (1 file), b (3), c (2); two files: one below, one tie -> (1 + 1/2) / 3
    assert index.features(change(3, CY, 2), rules)["nf_recent_rank"] == pytest.approx(1.5 / 3)
    # after every commit: 1, 3, 2, 1, 4 files; five files beat them all
    assert index.features(change(9, CY, 5), rules)["nf_recent_rank"] == 1.0
    assert index.features(change(9, CY, 1), rules)["nf_recent_rank"] == pytest.approx(1 / 5)
    assert index.features(change(0, CY, 1), rules)["nf_recent_rank"] is None  # nothing earlier


def test_experience_and_developers_as_shares_of_the_history(index: HistoryIndex) -> None:
    rules = MessageRules()
    later = index.features(change(9, ADA, 1), rules)
    # ada's earlier file changes: 1 + 3 of the repository's 1 + 3 + 2 + 1 + 4 = 11
    assert later["exp_share"] == pytest.approx(4 / 11)
    # equal times are not history: at day 3, d and e are not earlier (a, b, c: 6 file changes)
    assert index.features(change(3, BOB, 1), rules)["exp_share"] == pytest.approx(2 / 6)
    # ndev counts the author; so does the share: ada alone of ada, bob, cy and herself
    assert later["ndev_share"] == pytest.approx(1 / 4)
    assert index.features(change(0, ADA, 1), rules)["exp_share"] is None
    assert index.features(change(0, ADA, 1), rules)["ndev_share"] == 1.0


def test_rank_looks_only_at_the_most_recent_commits() -> None:
    index = HistoryIndex()
    for n in range(RECENT_COMMITS + 100):
        # the oldest 100 commits are large; the recent window holds only one-file commits
        index.add(record(f"c{n}", n, ADA, 10 if n < 100 else 1))
    features = index.features(change(10_000, ADA, 2), MessageRules())
    assert features["nf_recent_rank"] == 1.0


def test_line_shares_against_the_files_size() -> None:
    assert line_shares(10, 5, 90) == {"added_share": 0.1, "deleted_share": pytest.approx(5 / 90)}
    assert line_shares(10, 0, 0) == {"added_share": 1.0, "deleted_share": None}
    assert line_shares(0, 0, 0) == {"added_share": None, "deleted_share": None}
    # unreadable blobs can leave lt short of the deleted lines: the share stops at 1
    assert line_shares(0, 50, 20)["deleted_share"] == 1.0


def test_served_as_mined(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "project")
    shas = [repo.commit("one", {"a.py": lines(5)}, author="Ada <a@x>", when=T0)]
    shas.append(repo.commit("two", {"a.py": lines(9), "b.py": lines(2)}, when=T0 + DAY))
    shas.append(repo.commit("three", {"c.py": lines(4)}, author="Ada <a@x>", when=T0 + 2 * DAY))
    index = HistoryIndex()
    for item in iter_records(repo.path, ["HEAD"], MessageRules()):
        index.add(item)
    mined = {row["sha"]: row for row in mine(repo.path)}
    for sha in shas[1:]:
        served = compute_features(repo.path, first_parent(repo.path, sha), sha, index=index)
        for name in ("nf_recent_rank", "exp_share", "ndev_share", "added_share", "deleted_share"):
            assert served.vector.values[name] == mined[sha][name], (sha, name)
    assert mined[shas[2]]["nf_recent_rank"] == pytest.approx(0.5 / 2)  # 1 file vs 1 and 2
    assert mined[shas[2]]["exp_share"] == pytest.approx(1 / 3)
