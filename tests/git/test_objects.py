"""Kept git processes (cat-file, diff-tree) answer as the git commands they replace."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path

import pytest

from gate.features.blobs import BlobReader
from gate.features.compute import compute_features
from gate.features.diff import read_diff
from gate.git import cmd as gitcmd
from gate.git import commit_range
from gate.git.cmd import EMPTY_TREE
from gate.git.objects import PROCESSES_PER_REPOSITORY, ObjectReader, ObjectReaders
from tests.conftest import wait_until
from tests.gitrepo import GitRepo, lines

ADA = "Ada Lovelace <ada@example.com>"
GRACE = "Grace Hopper <grace@example.com>"
T0 = 1_700_000_000


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "repo")


@pytest.fixture
def reader(repo: GitRepo) -> Iterator[ObjectReader]:
    opened = ObjectReader(repo.path)
    yield opened
    opened.close()


def spawned_diff(repo: GitRepo, base: str, head: str) -> bytes:
    args = ("diff", "--no-color", "--no-ext-diff", "-M", "--full-index", base, head)
    return gitcmd.git(repo.path, *args)


@pytest.fixture
def changes(repo: GitRepo) -> list[str]:
    """Commits that modify, add, delete, rename, make binary, chmod and touch odd names."""
    shas = [repo.commit("initial", {"app.py": lines(40), "docs/a b.md": "x\n", "old.py": "o\n"})]
    shas.append(repo.commit("modify", {"app.py": lines(30) + "changed\n" + lines(9, "tail")}))
    shas.append(repo.commit("add and delete", {"new.py": lines(5), "old.py": None}))
    repo.git("mv", "new.py", "moved.py")
    shas.append(repo.commit("rename"))
    shas.append(repo.commit("binary", {"logo.png": b"\x89PNG\0\0" + bytes(range(256))}))
    (repo.path / "app.py").chmod(0o755)
    repo.git("add", "app.py")
    shas.append(repo.commit("mode"))
    shas.append(repo.commit("odd names", {"docs/ünï cödé.md": "hi\n", "no-newline": "end"}))
    shas.append(repo.commit("nothing changed"))
    return shas


def test_the_kept_diff_is_byte_for_byte_git_diff(repo: GitRepo, reader: ObjectReader, changes):
    for base, head in [*pairwise(changes), (changes[0], changes[-1])]:
        expected = spawned_diff(repo, base, head)
        assert reader.patch(base, head, 1 << 20) == (expected or None), (base[:8], head[:8])


def test_the_kept_diff_declines_what_a_spawned_git_must_answer(
    repo: GitRepo, reader: ObjectReader, changes
):
    assert reader.patch(EMPTY_TREE, changes[0], 1 << 20) is None
    assert reader.patch("0" * 40, changes[1], 1 << 20) is None
    assert reader.patch(changes[0], changes[1], max_bytes=10) is None  # over the limit
    # and it still answers afterwards, from a fresh process
    assert reader.patch(changes[0], changes[1], 1 << 20) == spawned_diff(repo, *changes[:2])


def test_read_diff_reads_the_same_changes_either_way(repo: GitRepo, reader: ObjectReader, changes):
    for base, head in pairwise(changes):
        kept, spawned = read_diff(repo.path, base, head, reader), read_diff(repo.path, base, head)
        assert (kept.changes, kept.notes, kept.patch) == (
            spawned.changes,
            spawned.notes,
            spawned.patch,
        )


def test_line_counts_match_the_blob_reader(repo: GitRepo, reader: ObjectReader, changes):
    paths = ["app.py", "logo.png", "no-newline", "docs/ünï cödé.md", "missing", "a\nb"]
    with BlobReader(repo.path) as blobs:
        for commit in [EMPTY_TREE, *changes]:
            for path in paths:
                assert reader.line_count(commit, path) == blobs.line_count(commit, path), path
    assert reader.line_count(changes[-1], "docs") == 0  # a directory
    assert reader.line_count(changes[-1], "app.py") == 40  # and the answers stay in step


def test_commits_and_lookups(repo: GitRepo, reader: ObjectReader):
    first = repo.commit("fix: the first\n\nwith a body", {"a.py": "a\n"}, author=GRACE, when=T0)
    second = repo.commit("second", {"a.py": "b\n"}, author=ADA, when=T0 + 60)
    commit = reader.commit(first)
    assert commit is not None
    assert (commit.parents, commit.time, commit.author_email) == ((), T0, "grace@example.com")
    assert commit.message == "fix: the first\n\nwith a body\n"
    assert reader.commit_sha("master") == second
    assert reader.commit_sha(second[:9]) == second
    assert reader.commit_sha("master~1") == first
    assert reader.commit_sha("f" * 40) is None
    assert reader.commit_sha("no-such-branch") is None
    assert reader.commit_sha("master\ninfo HEAD") is None  # no second question smuggled in
    blob = reader.blob_at(second, "a.py")
    assert blob is not None and blob.type == "blob" and blob.size == 2
    assert reader.blob_at(second, "missing.py") is None


def test_a_commit_that_arrives_later_is_found(repo: GitRepo, reader: ObjectReader):
    repo.commit("one", {"a.py": "a\n"})
    assert reader.commit_sha("master") is not None  # the process is running now
    later = repo.commit("two", {"b.py": lines(3)})
    assert reader.commit_sha(later) == later
    assert reader.commit_sha(later[:8]) == later
    assert reader.line_count(later, "b.py") == 3


def test_killed_processes_are_replaced(repo: GitRepo, reader: ObjectReader):
    base = repo.commit("one", {"a.py": lines(4)})
    head = repo.commit("two", {"a.py": lines(5)})
    expected = spawned_diff(repo, base, head)
    assert reader.line_count(base, "a.py") == 4 and reader.patch(base, head, 1 << 20) == expected
    pids = reader.pids()
    assert len(pids) == 2  # a cat-file and a diff-tree
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: reader.pids() == [], what="the processes to end")
    assert reader.line_count(base, "a.py") == 4
    assert reader.patch(base, head, 1 << 20) == expected


def test_threads_share_a_reader(repo: GitRepo, reader: ObjectReader):
    shas = [repo.commit(f"c{n}", {"a.py": lines(n + 1)}) for n in range(8)]
    with ThreadPoolExecutor(8) as pool:
        counts = list(pool.map(lambda sha: reader.line_count(sha, "a.py"), shas * 20))
    assert counts == list(range(1, 9)) * 20
    assert len(reader.pids()) <= PROCESSES_PER_REPOSITORY


def test_readers_are_kept_per_repository_and_the_oldest_closed(tmp_path: Path):
    readers = ObjectReaders(kept=2)
    paths = []
    for name in "abc":
        GitRepo(tmp_path / name).commit("one", {"a.py": "a\n"})
        paths.append(tmp_path / name)
    first = readers.get(paths[0])
    assert readers.get(paths[0]) is first
    assert first.commit_sha("master") is not None
    readers.get(paths[1]), readers.get(paths[2])
    assert first.pids() == []  # closed when a third one came
    assert first.commit_sha("master") is not None  # a holder still gets answers
    readers.close()


@pytest.fixture
def forked(repo: GitRepo) -> dict[str, str]:
    """master: a - b - c - M(c, f) - g; a branch: a - b - e - f."""
    shas = {"a": repo.commit("a", {"x.py": lines(5)}), "b": repo.commit("b", {"x.py": lines(6)})}
    repo.branch("topic")
    shas["e"] = repo.commit("e: fix the crash", {"y.py": lines(3)}, author=GRACE)
    shas["f"] = repo.commit("f", {"y.py": lines(4)}, author=GRACE)
    repo.checkout("master")
    shas["c"] = repo.commit("c", {"z.py": lines(2)})
    repo.git("merge", "--quiet", "--no-ff", "-m", "M", "topic")
    shas["M"] = repo.git("rev-parse", "HEAD")
    shas["g"] = repo.commit("g\n\nbody of g", {"x.py": lines(7)})
    return shas


PAIRS = [("a", "c"), ("b", "c"), ("c", "c"), ("e", "c"), ("f", "g"), ("a", "g"), ("M", "g")]


@pytest.mark.parametrize(("base", "head"), PAIRS)
def test_merge_base_and_head_commit_agree_with_git(
    repo: GitRepo, reader: ObjectReader, forked: dict[str, str], base: str, head: str
):
    base_sha, head_sha = forked[base], forked[head]
    assert commit_range.merge_base(reader, repo.path, base_sha, head_sha) == gitcmd.merge_base(
        repo.path, base_sha, head_sha
    )
    assert commit_range.head_commit(repo.path, base_sha, head_sha, reader) == (
        commit_range.head_commit(repo.path, base_sha, head_sha)
    )


def test_only_a_plain_line_of_commits_is_walked(reader: ObjectReader, forked: dict[str, str]):
    walked = commit_range.linear_commits(reader, forked["a"], forked["c"])
    assert [commit.sha for commit in walked or []] == [forked["c"], forked["b"]]
    assert commit_range.linear_commits(reader, forked["a"], forked["g"]) is None  # through M
    assert commit_range.linear_commits(reader, forked["e"], forked["c"]) is None  # not an ancestor
    assert commit_range.linear_commits(reader, forked["a"], forked["c"], limit=1) is None


def test_features_are_the_same_with_and_without_kept_processes(
    repo: GitRepo, reader: ObjectReader, forked: dict[str, str]
):
    for base, head in PAIRS:
        with_reader = compute_features(repo.path, forked[base], forked[head], objects=reader)
        spawned = compute_features(repo.path, forked[base], forked[head])
        assert with_reader.vector.values == spawned.vector.values
        assert with_reader.vector.notes == spawned.vector.notes


def test_a_reader_is_not_confused_by_a_path_that_looks_like_an_answer(repo: GitRepo):
    sha = repo.commit("odd", {"x missing": "one\n", "y ambiguous": "a\nb\n"})
    reader = ObjectReader(repo.path)
    try:
        assert reader.line_count(sha, "x missing") == 1
        assert reader.line_count(sha, "y ambiguous") == 2
        assert reader.line_count(sha, "z missing") == 0
    finally:
        reader.close()
