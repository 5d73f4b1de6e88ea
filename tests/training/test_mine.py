"""Mining on a repository of awkward changes: the same vectors as serving, the same diff counts
as unidiff, and line counts carried through the stream equal to those read from git."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from gate.features.blobs import BlobReader
from gate.features.compute import compute_features
from gate.features.diff import parse_patch
from gate.features.gitlog import (
    commit_order,
    iter_commits,
    iter_commits_in_order,
    iter_records,
    scan_patch,
)
from gate.features.history import HistoryIndex, MessageRules
from gate.git.cmd import first_parent
from gate.git.logstream import DiffStream, rev_list
from tests.gitrepo import GitRepo, lines
from training.mine import mine

ADA = "Ada Lovelace <ada@example.com>"
BOB = "Bob Babbage <bob@example.com>"
T0 = 1_700_000_000
HOUR = 3600
NULL = "0" * 40


def _awkward_history(repo: GitRepo) -> None:
    repo.commit(
        "root",
        {
            ".gitattributes": "*.dat -diff\nforced.txt diff\n",
            "src/app.py": lines(40),
            "src/no newline.py": "first\nlast",
            "src/empty.txt": "",
            "docs/naïve.md": lines(3),
            'odd/quo"te.txt': lines(2),
            "x b/y.txt": lines(2),
            "crlf.txt": "one\r\ntwo\r\n",
            "marker.txt": "\x1eat the start\ndiff --git a/x b/x\n@@ -1 +1 @@\n",
            "image.bin": b"\x00\x01binary\n",
            "table.dat": lines(5),
            "forced.txt": b"text\x00with a nul\nsecond\n",
        },
        author=ADA,
        when=T0,
    )
    repo.commit(
        "edit in many ways",
        {
            "src/app.py": lines(40).replace("line 3\n", "three\n").replace("line 30\n", "x\n"),
            "src/no newline.py": "first\nlast\n",
            "src/empty.txt": lines(2),
            "docs/naïve.md": "",
            'odd/quo"te.txt': lines(3),
            "x b/y.txt": lines(3),
            "crlf.txt": "one\r\ntwo\r\nthree\r\n",
            "marker.txt": "\x1eat the start\ndiff --git a/x b/x\n@@ -1 +2 @@\n",
            "image.bin": b"\x00\x02binary\n",
            "table.dat": lines(7),
            "forced.txt": b"text\x00with a nul\nsecond\nthird\n",
        },
        author=BOB,
        when=T0 + HOUR,
    )
    (repo.path / "core").mkdir()
    repo.git("mv", "src/app.py", "core/app.py")  # a pure rename: no blob ids in the diff
    repo.commit("move app", author=ADA, when=T0 + 2 * HOUR)
    repo.git("mv", "core/app.py", "core/main.py")
    repo.commit("rename and edit", {"core/main.py": lines(41)}, author=BOB, when=T0 + 3 * HOUR)
    repo.commit("a quoted path alone", {'odd/quo"te.txt': lines(4)}, when=T0 + 3 * HOUR + 60)
    repo.commit("and again", {'odd/quo"te.txt': lines(5)}, when=T0 + 3 * HOUR + 120)
    os.chmod(repo.path / "crlf.txt", 0o755)
    repo.git("add", "crlf.txt")
    repo.commit("mode only", author=ADA, when=T0 + 4 * HOUR)
    os.symlink("core/main.py", repo.path / "link")
    repo.git("add", "link")
    repo.commit("a symlink", author=ADA, when=T0 + 5 * HOUR)
    (repo.path / "link").unlink()
    repo.commit("the link becomes a file", {"link": lines(4)}, author=BOB, when=T0 + 6 * HOUR)
    sub = repo.git("rev-parse", "HEAD")
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{sub},vendor/sub")
    repo.commit("a submodule", author=ADA, when=T0 + 7 * HOUR)
    repo.branch("side")
    repo.commit("on the side", {"core/main.py": lines(42)}, author=BOB, when=T0 + 9 * HOUR)
    repo.checkout("master")
    skewed = repo.commit("skewed", {"link": lines(5)}, author=ADA, when=T0 + 8 * HOUR - 5)
    merge_env = {"GIT_COMMITTER_DATE": f"{T0 + 10 * HOUR} +0000"}
    repo.git("merge", "--quiet", "--no-ff", "-m", "merge side", "side", env=merge_env)
    repo.commit(
        f'Revert "skewed"\n\nThis reverts commit {skewed}.',
        {"link": lines(4), "src/empty.txt": None},
        author=BOB,
        when=T0 + 11 * HOUR,
    )


@pytest.fixture(scope="module")
def awkward(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    repo = GitRepo(tmp_path_factory.mktemp("awkward") / "repo")
    _awkward_history(repo)
    return repo


def _full_index(repo: GitRepo) -> HistoryIndex:
    index = HistoryIndex()
    for record in reversed(list(iter_records(repo.path, ["HEAD"], MessageRules()))):
        index.add(record)
    return index


def test_mined_rows_equal_the_served_vectors_for_every_awkward_commit(awkward: GitRepo):
    index = _full_index(awkward)
    rows = list(mine(awkward.path))
    assert len(rows) == len(index) == 14
    for row in rows:
        served = compute_features(
            awkward.path, first_parent(awkward.path, row["sha"]), row["sha"], index=index
        ).vector.values
        for name, value in served.items():
            if isinstance(value, float) and math.isnan(value):
                assert row[name] is None or math.isnan(row[name])
            else:
                assert row[name] == pytest.approx(value), (row["sha"][:8], name)


def test_the_scan_reads_every_patch_as_unidiff_does_or_leaves_it_to_unidiff(awkward: GitRepo):
    requests = [(sha, ps[0] if ps else None) for sha, ps in rev_list(awkward.path, ["HEAD"])]
    scanned = 0
    for answer in DiffStream(awkward.path, ["-r", "-p", "-M", "--full-index"], requests):
        assert answer.output is not None
        patch = answer.output.decode("utf-8", "surrogateescape")
        fast = scan_patch(patch)
        if fast is None:
            continue
        scanned += 1
        assert [change for change, _ in fast] == parse_patch(patch)
    assert scanned >= 10  # only the quoted and ambiguous paths are left to unidiff


def test_the_scan_finds_the_blobs_before_and_after_each_change(awkward: GitRepo):
    for commit in iter_commits(awkward.path, ["HEAD"]):
        for change, ids in zip(commit.changes, commit.blobs, strict=True):
            if ids is None:
                continue
            # a null id: no file on that side (a type change shows as a deletion and an addition)
            if ids.before != NULL:
                before = change.old_path or change.path
                assert ids.before == awkward.git("rev-parse", f"{commit.parent}:{before}")
            if ids.after != NULL:
                assert ids.after == awkward.git("rev-parse", f"{commit.sha}:{change.path}")


def test_lines_before_carried_through_the_stream_equal_those_read(awkward: GitRepo):
    rows = {row["sha"]: row for row in mine(awkward.path)}
    with BlobReader(awkward.path) as reader:
        for commit in iter_commits(awkward.path, ["HEAD"]):
            paths = [change.old_path or change.path for change in commit.changes]
            assert rows[commit.sha]["lt"] == reader.lines_before(commit.parent, paths)


def test_a_content_line_that_starts_with_the_commit_marker_splits_nothing(awkward: GitRepo):
    commits = list(iter_commits_in_order(awkward.path, commit_order(awkward.path, ["HEAD"]), 2, 1))
    assert len(commits) == 14
    assert [commit.message for commit in commits[:2]] == ["root", "edit in many ways"]


def test_rows_come_parents_first(awkward: GitRepo):
    order = [row["sha"] for row in mine(awkward.path)]
    for at, sha in enumerate(order):
        parent = first_parent(awkward.path, sha)
        assert parent not in order[at:]


def test_mining_a_revision_range_sees_only_that_history(awkward: GitRepo):
    head = awkward.git("rev-parse", "HEAD")
    base = awkward.git("rev-parse", "HEAD~3")
    rows = list(mine(awkward.path, [f"{base}..{head}"]))
    assert len(rows) == 4  # the side commit, the skewed one, the merge and the revert
    assert {row["sha"] for row in rows} >= {head}


def test_an_empty_repository_range_mines_nothing(awkward: GitRepo, tmp_path: Path):
    head = awkward.git("rev-parse", "HEAD")
    assert list(mine(awkward.path, [f"{head}..{head}"])) == []


def test_gate_mine_reports_progress_with_totals_and_writes_every_row(
    awkward: GitRepo, tmp_path: Path
):
    out = tmp_path / "rows.parquet"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gate.cli.main",
            "mine",
            "--repo",
            str(awkward.path),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "GATE_LOG_JSON": "false"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    # stderr is no terminal here: progress comes as lines, each stage's last one at its total
    assert re.search(r"index: 14 of 14 commits, [\d,]+/s, 0:00:00 left", done.stderr)
    assert re.search(r"features: 14 of 14 commits, [\d,]+/s, 0:00:00 left", done.stderr)
    table = pd.read_parquet(out)
    assert len(table) == 14 and (table["unreadable_files"] == 0).all()
