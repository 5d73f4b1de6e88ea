"""The log reader on any bytes: every mined row's line and file counts equal git's own numstat,
whatever the content, names and messages hold; and it goes on past what git cannot read."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate.features.compute import compute_features
from gate.features.gitlog import iter_commits_in_order, iter_records, record_fingerprint
from gate.features.history import HistoryIndex, MessageRules
from gate.git.cmd import EMPTY_TREE, first_parent
from tests.gitrepo import GitRepo, lines
from training.mine import mine

T0 = 1_700_000_000
IDENTITY = {
    "GIT_AUTHOR_NAME": "Ada",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
}


def _git(
    repo: Path, *args: str | bytes, stdin: bytes = b"", env: dict[str, str] | None = None
) -> bytes:
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        input=stdin,
        capture_output=True,
        check=True,
        env={**os.environ, **IDENTITY, **(env or {})},
    )
    return done.stdout


def numstat(repo: Path, sha: str) -> tuple[int, int, int]:
    """(lines added, lines deleted, files) of a commit against its first parent, by git."""
    parents = _git(repo, "rev-list", "--parents", "-n", "1", sha).split()[1:]
    base = [parents[0].decode()] if parents else ["--root"]
    out = _git(repo, "diff-tree", "-r", "-M", "-z", "--numstat", *base, sha)
    fields = out.split(b"\0")
    added = deleted = files = 0
    at = 1 if fields and len(fields[0]) == 40 and b"\t" not in fields[0] else 0  # --root: the SHA
    while at < len(fields) and fields[at]:
        a, d, path = fields[at].split(b"\t", 2)
        at += 1 if path else 3  # a rename: the old and the new path follow
        files += 1
        added += 0 if a == b"-" else int(a)
        deleted += 0 if d == b"-" else int(d)
    return added, deleted, files


# random histories ------------------------------------------------------------------------------

_AWKWARD = [b"\0", b"\x1e", b"\x1f", b"\x1d", b"\0\x1e", b"\r\n", b"\n", b"\xff\xfe", b"\x1e\x1f"]
content = st.one_of(
    st.binary(max_size=300),
    st.lists(
        st.one_of(
            st.sampled_from(_AWKWARD),
            st.sampled_from([b"diff --git a/x b/x\n", b"@@ -1 +1 @@\n", b"+++ b/x\n", b"a" * 40]),
            st.text("abc \t", max_size=8).map(str.encode),
        ),
        max_size=30,
    ).map(b"".join),
)
name = st.sampled_from(
    [b"a.txt", b"dir/b.py", b"sp ace.md", b'q"uote', b"tab\tname", b"\xff\xfe-latin.txt",
     b"na\xc3\xafve.md", b"\x1e\x1f.dat", b"0123456789abcdef0123456789abcdef01234567", b"d/e/f.c"]
)  # fmt: skip
# written as raw objects: git commit would re-encode bytes that are not UTF-8
message = st.tuples(
    st.binary(max_size=60).map(lambda raw: raw.replace(b"\0", b"")),
    st.sampled_from([b"", b"encoding ISO-8859-1\n"]),
    st.binary(max_size=12).map(lambda raw: bytes(b for b in raw if b not in b"<>\n\0")),
)
step = st.one_of(
    st.tuples(st.just("write"), st.dictionaries(name, st.one_of(content, st.none()), max_size=4)),
    st.tuples(st.just("empty"), st.none()),
    st.tuples(st.just("merge"), st.none()),
)


def _build(repo: Path, steps: list[tuple[str, object]], messages: list[bytes]) -> None:
    _git(repo, "init", "-q", "--initial-branch=master")
    tips: list[str] = []
    for number, (kind, files) in enumerate(steps):
        if kind == "write" and isinstance(files, dict):
            for path, data in files.items():
                target = os.path.join(os.fsencode(repo), path)
                if data is None:
                    if os.path.lexists(target):
                        os.unlink(target)
                    continue
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "wb") as out:
                    out.write(data)
            _git(repo, "add", "-A")
        tree = _git(repo, "write-tree").decode().strip()
        parents = [] if not tips else ["-p", tips[-1]]
        if kind == "merge" and len(tips) >= 2:
            parents += ["-p", tips[len(tips) // 2]]
        text, encoding, email = messages[number % len(messages)]
        raw = f"tree {tree}\n".encode() + b"".join(f"parent {p}\n".encode() for p in parents[1::2])
        raw += b"author A <" + email + f"> {T0} +0000\n".encode()
        raw += f"committer C <c@x> {T0 + number * 60} +0000\n".encode() + encoding + b"\n" + text
        sha = _git(repo, "hash-object", "-t", "commit", "-w", "--stdin", stdin=raw)
        tips.append(sha.decode().strip())
    _git(repo, "update-ref", "HEAD", tips[-1])


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(steps=st.lists(step, min_size=1, max_size=6), messages=st.lists(message, min_size=1))
def test_every_mined_row_counts_what_git_numstat_counts(steps, messages):
    with tempfile.TemporaryDirectory() as directory:
        repo = Path(directory) / "repo"
        repo.mkdir()
        _build(repo, steps, messages)
        rows = list(mine(repo))
        shas = _git(repo, "rev-list", "HEAD").decode().split()
        assert sorted(row["sha"] for row in rows) == sorted(shas)
        for row in rows:
            assert (row["la"], row["ld"], row["nf"]) == numstat(repo, row["sha"]), row["sha"]
            assert row["unreadable_files"] == 0
        records = {record.sha: record for record in iter_records(repo, ["HEAD"], MessageRules())}
        assert set(records) == set(shas)
        for sha in shas:
            assert len(records[sha].paths) == numstat(repo, sha)[2]
            # the metadata as git log shows it, re-encoded where the commit names an encoding
            shown = _git(repo, "log", "-1", "--format=%ae%x00%B", sha).decode("utf-8", "replace")
            email, _, body = shown.partition("\0")
            assert records[sha].author == email.lower()
            assert _message_of(repo, sha) == body.strip()


def _message_of(repo: Path, sha: str) -> str:
    [commit] = iter_commits_in_order(repo, [sha])
    return commit.message


# what git cannot read, and histories that are not a plain line ---------------------------------


def _row_matches_serving(repo: Path, row: dict[str, object]) -> None:
    index = HistoryIndex()
    for record in iter_records(repo, ["HEAD"], MessageRules()):
        index.add(record)
    sha = str(row["sha"])
    served = compute_features(repo, first_parent(repo, sha), sha, index=index).vector.values
    for feature, value in served.items():
        if isinstance(value, float) and math.isnan(value):
            assert row[feature] is None or math.isnan(row[feature])  # type: ignore[arg-type]
        else:
            assert row[feature] == pytest.approx(value), feature


def _bare_unpacked(source: GitRepo, target: Path) -> Path:
    """A bare clone whose objects are loose files, so one can be taken away."""
    _git(source.path, "clone", "-q", "--bare", "--no-local", str(source.path), str(target))
    for pack in (target / "objects" / "pack").glob("*.pack"):
        data = pack.read_bytes()
        pack.unlink()
        pack.with_suffix(".idx").unlink()
        _git(target, "unpack-objects", "-q", stdin=data)
    return target


def test_a_missing_blob_makes_its_file_unreadable_and_mining_goes_on(tmp_path: Path):
    source = GitRepo(tmp_path / "source")
    source.commit("one", {"big.bin": lines(50), "small.txt": lines(2)})
    source.commit("two", {"big.bin": lines(60), "small.txt": lines(3)})
    source.commit("three", {"small.txt": lines(4)})
    source.commit("four", {"big.bin": lines(61)})
    bare = _bare_unpacked(source, tmp_path / "snapshot.git")
    lost = _git(bare, "rev-parse", "HEAD~2:big.bin").decode().strip()
    (bare / "objects" / lost[:2] / lost[2:]).unlink()  # as a snapshot without its largest blobs
    rows = {row["sha"]: row for row in mine(bare)}
    two, three, four = (
        _git(bare, "rev-parse", rev).decode().strip() for rev in ("HEAD~2", "HEAD~1", "HEAD")
    )
    assert len(rows) == 4
    assert rows[two]["unreadable_files"] == 1 and rows[four]["unreadable_files"] == 1
    assert (rows[two]["la"], rows[two]["ld"], rows[two]["nf"]) == (1, 0, 2)  # small.txt only
    assert rows[three]["unreadable_files"] == 0 and rows[three]["la"] == 1
    assert (rows[four]["la"], rows[four]["nf"]) == (0, 1)
    for row in rows.values():
        _row_matches_serving(bare, row)
    notes = compute_features(bare, two, four).vector.notes
    assert any("unreadable" in note for note in notes)


def test_a_submodule_bump_counts_as_git_counts_it(tmp_path: Path):
    repo = GitRepo(tmp_path / "repo")
    first = repo.commit("one", {"a.txt": lines(2)})
    second = repo.commit("two", {"a.txt": lines(3)})
    for sha in (first, second):
        repo.git("update-index", "--add", "--cacheinfo", f"160000,{sha},vendor/lib")
        repo.commit(f"bump to {sha[:7]}")
    rows = list(mine(repo.path))
    assert len(rows) == 4
    for row in rows:
        assert (row["la"], row["ld"], row["nf"]) == numstat(repo.path, str(row["sha"]))
        _row_matches_serving(repo.path, row)
    assert (rows[-1]["la"], rows[-1]["ld"], rows[-1]["lt"]) == (1, 1, 0)


def test_an_octopus_merge_is_diffed_against_its_first_parent(tmp_path: Path):
    repo = GitRepo(tmp_path / "repo")
    repo.commit("root", {"a.txt": lines(2)})
    for branch in ("b1", "b2", "b3"):
        repo.branch(branch, "master")
        repo.commit(f"on {branch}", {f"{branch}.txt": lines(3)})
    repo.checkout("master")
    repo.commit("on master", {"a.txt": lines(3)})
    repo.git("merge", "--quiet", "-m", "octopus", "b1", "b2", "b3")
    head = repo.git("rev-parse", "HEAD")
    assert len(repo.git("rev-list", "--parents", "-n", "1", head).split()) == 1 + 4  # 4 parents
    rows = {row["sha"]: row for row in mine(repo.path)}
    assert len(rows) == 6
    assert (rows[head]["la"], rows[head]["nf"]) == numstat(repo.path, head)[::2] == (9, 3)
    for row in rows.values():
        _row_matches_serving(repo.path, row)


def test_a_shallow_clone_mines_what_it_has(tmp_path: Path):
    source = GitRepo(tmp_path / "source")
    for number in range(5):
        source.commit(f"c{number}", {"a.txt": lines(number + 1), f"f{number}.txt": lines(2)})
    shallow = tmp_path / "shallow"
    _git(tmp_path, "clone", "-q", "--depth", "3", f"file://{source.path}", str(shallow))
    rows = list(mine(shallow))
    assert len(rows) == 3
    oldest = rows[0]
    assert first_parent(shallow, str(oldest["sha"])) == EMPTY_TREE  # the boundary is a root here
    assert (oldest["la"], oldest["nf"]) == numstat(shallow, str(oldest["sha"]))[::2] == (9, 4)
    for row in rows:
        _row_matches_serving(shallow, row)


def test_a_replaced_commit_graft_cuts_the_history_where_git_log_does(tmp_path: Path):
    repo = GitRepo(tmp_path / "repo")
    for number in range(4):
        repo.commit(f"c{number}", {"a.txt": lines(number + 1)})
    cut = repo.git("rev-parse", "HEAD~1")
    repo.git("replace", "--graft", cut)  # HEAD~1 now has no parents
    rows = list(mine(repo.path))
    assert [row["sha"] for row in rows] == [cut, repo.git("rev-parse", "HEAD")]
    assert (rows[0]["la"], rows[0]["ld"]) == (3, 0)  # all of a.txt, as a root commit adds it
    records = list(iter_records(repo.path, ["HEAD"], MessageRules()))
    assert len(records) == 2
    for row in rows:
        _row_matches_serving(repo.path, row)


def test_a_pdf_diffed_as_text_with_nul_and_record_separator_stays_one_commit(tmp_path: Path):
    # the crash of issue 12: "\0\x1e" inside a PDF diffed as text was read as a commit start
    repo = GitRepo(tmp_path / "repo")
    pdf = b"%PDF-1.4\n" + b"x" * 9000 + b"\nstream \0\x1ehello\nend\n"
    repo.commit("pdf", {".gitattributes": "*.pdf diff\n", "doc.pdf": pdf})
    repo.commit("pdf again", {"doc.pdf": pdf.replace(b"hello", b"hello2")})
    rows = list(mine(repo.path))
    assert [(row["la"], row["ld"], row["nf"]) for row in rows] == [(5, 0, 2), (1, 1, 1)]


def test_a_rename_whose_old_blob_is_missing_is_indexed_without_the_rename(tmp_path: Path):
    source = GitRepo(tmp_path / "source")
    source.commit("one", {"old.txt": lines(30)})
    source.commit("move and edit", {"old.txt": None, "new.txt": lines(31)})
    bare = _bare_unpacked(source, tmp_path / "snapshot.git")
    lost = _git(bare, "rev-parse", "HEAD~1:old.txt").decode().strip()
    (bare / "objects" / lost[:2] / lost[2:]).unlink()
    newest = next(iter_records(bare, ["HEAD"], MessageRules()))
    assert (set(newest.paths), newest.renamed_from) == ({"old.txt", "new.txt"}, ())
    rows = list(mine(bare))
    assert [row["unreadable_files"] for row in rows] == [1, 1]
    assert (rows[1]["la"], rows[1]["nf"]) == (31, 2)  # new.txt counted, old.txt unreadable
    for row in rows:
        _row_matches_serving(bare, row)


def test_the_record_fingerprint_is_the_same_in_every_process_and_follows_the_rules():
    script = (
        "from gate.features.gitlog import record_fingerprint\n"
        "from gate.features.history import MessageRules\n"
        "print(record_fingerprint(MessageRules()))\n"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    }
    assert runs == {record_fingerprint(MessageRules())}
    assert record_fingerprint(MessageRules(r"\bbug\b")) != record_fingerprint(MessageRules())
