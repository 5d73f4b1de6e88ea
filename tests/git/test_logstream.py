"""The commit stream's framing: nothing a file or message holds can end an answer early, a
huge answer is cut and the next still found, and a commit git cannot read stops nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

from gate.git.logstream import DiffStream, parse_commit_object, read_commits, rev_list
from tests.gitrepo import GitRepo, lines

PATCH = ["-r", "-p", "-M", "--full-index"]
STATUS = ["-r", "-z", "--name-status", "-M"]


def _requests(repo: Path, *shas: str) -> list[tuple[str, str | None]]:
    parents = dict(rev_list(repo, ["--all"]))
    return [(sha, parents[sha][0] if parents[sha] else None) for sha in shas]


def test_a_path_named_like_the_next_commit_is_still_a_path(tmp_path: Path):
    repo = GitRepo(tmp_path / "repo")
    root = repo.commit("root", {"a.txt": lines(1)})
    other = repo.commit("other", {"b.txt": lines(1)})
    repo.branch("side", root)
    named = repo.commit("a file named like the other commit", {other: lines(2)})
    answers = list(DiffStream(repo.path, STATUS, _requests(repo.path, named, other), zero=True))
    assert [answer.sha for answer in answers] == [named, other]
    assert answers[0].output == b"A\0" + other.encode() + b"\0"
    assert answers[1].output == b"A\0b.txt\0"


def test_a_content_line_holding_the_next_sha_ends_nothing(tmp_path: Path):
    repo = GitRepo(tmp_path / "repo")
    root = repo.commit("root", {"a.txt": lines(1)})
    other = repo.commit("other", {"b.txt": lines(1)})
    repo.branch("side", root)
    forged = repo.commit(
        "forged",  # diffed as text for all its NUL
        {".gitattributes": "c.txt diff\n", "c.txt": f"{other}\n\0\x1e{other}\n".encode()},
    )
    answers = list(DiffStream(repo.path, PATCH, _requests(repo.path, forged, other)))
    assert [answer.sha for answer in answers] == [forged, other]
    assert answers[0].output is not None and answers[0].output.count(other.encode()) == 2
    assert answers[1].output is not None and b"b.txt" in answers[1].output


def test_an_answer_past_the_limit_is_cut_and_the_next_one_still_found(tmp_path: Path):
    repo = GitRepo(tmp_path / "repo")
    repo.commit("root", {"a.txt": lines(1)})
    big = repo.commit("big", {"big.txt": lines(100_000)})  # a patch of 1.2 MB
    after = repo.commit("after", {"a.txt": lines(2)})
    answers = list(DiffStream(repo.path, PATCH, _requests(repo.path, big, after), 10_000))
    assert [(answer.sha, answer.oversized) for answer in answers] == [(big, True), (after, False)]
    # kept: at most the limit and one read's worth of what followed
    assert answers[0].output is not None and len(answers[0].output) < 10_000 + (1 << 16)
    assert answers[1].output is not None and b"+line 1\n" in answers[1].output


def test_a_commit_git_cannot_read_is_answered_none_and_the_rest_come(tmp_path: Path):
    source = GitRepo(tmp_path / "source")
    shas = [source.commit(f"c{n}", {"a.txt": lines(n + 1)}) for n in range(3)]
    shas.append(source.commit("rename and edit", {"a.txt": None, "b.txt": lines(4)}))
    bare = tmp_path / "bare.git"
    subprocess.run(
        ["git", "clone", "-q", "--bare", "--no-local", str(source.path), str(bare)], check=True
    )
    pack = next((bare / "objects" / "pack").glob("*.pack"))
    data = pack.read_bytes()
    pack.unlink()
    pack.with_suffix(".idx").unlink()
    subprocess.run(["git", "-C", str(bare), "unpack-objects", "-q"], input=data, check=True)
    lost = source.git("rev-parse", f"{shas[2]}:a.txt")
    (bare / "objects" / lost[:2] / lost[2:]).unlink()
    requests = _requests(bare, *shas)
    # patches need the lost blob on both sides of it; names need it only to detect the rename
    for options, zero, unanswered in ((PATCH, False, shas[2:]), (STATUS, True, shas[3:])):
        answers = list(DiffStream(bare, options, requests, zero=zero))
        assert [answer.sha for answer in answers] == shas
        assert [answer.sha for answer in answers if answer.output is None] == unanswered
        assert all("unable to read" in a.error for a in answers if a.output is None)


def test_commit_objects_read_as_git_log_shows_them(tmp_path: Path):
    raw = (
        b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
        b"author Ad\xe9 <Ad\xe9@Example.com> 1700000000 +0100\n"
        b"committer C <c@x> 1700000600 -0500\n"
        b"encoding ISO-8859-1\n"
        b"gpgsig -----BEGIN PGP SIGNATURE-----\n \n author <not@me>\n -----END-----\n"
        b"\nFix caf\xe9\n\x1e\x1f\x1d\n"
    )
    info = parse_commit_object("f" * 40, ("a" * 40,), raw)
    assert (info.time, info.author, info.message) == (
        1700000600,
        "Adé@Example.com",
        "Fix café\n\x1e\x1f\x1d\n",
    )
    repo = GitRepo(tmp_path / "repo")
    sha = repo.commit("one\n\nbody \x1e\x1f")
    shown = subprocess.run(
        ["git", "-C", str(repo.path), "log", "-1", "--format=%B", sha], capture_output=True
    ).stdout
    [info] = read_commits(repo.path, rev_list(repo.path, ["HEAD"]))
    assert info.message.encode() + b"\n" == shown  # %B ends with a newline of its own
