"""Diff features checked against values computed by hand and against git's own --numstat."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate.features import diff as diff_module
from gate.features.diff import change_entropy, changed_files, diff_features, parse_patch
from gate.git.cmd import EMPTY_TREE, first_parent
from tests.gitrepo import GitRepo, lines


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "repo")


def features_of(repo: GitRepo, base: str, head: str) -> dict[str, float | None]:
    changes, _notes = changed_files(repo.path, base, head)
    return diff_features(changes).values


def test_values_by_hand_on_a_small_change(repo: GitRepo):
    base = repo.commit("base", {"src/a.py": lines(10), "src/b.py": lines(4), "README": "hi\n"})
    # a.py: lines 2 and 8 replaced (2 hunks with 3 lines of context? lines 2..8 overlap -> 1 hunk)
    changed = lines(10).replace("line 2\n", "two\n").replace("line 8\n", "eight\n")
    head = repo.commit(
        "change", {"src/a.py": changed, "tests/test_a.py": "assert True\n", "README": None}
    )
    values = features_of(repo, base, head)
    # la: a.py 2 + test_a.py 1 = 3; ld: a.py 2 + README 1 = 3
    assert values["la"] == 3 and values["ld"] == 3
    assert values["nf"] == 3
    assert values["nd"] == 3  # src, tests, the root
    assert values["ns"] == 3  # src, tests, root
    # churn per file: a.py 4, test_a.py 1, README 1 -> shares 4/6, 1/6, 1/6
    expected = -(4 / 6 * math.log2(4 / 6) + 2 * (1 / 6 * math.log2(1 / 6)))
    assert values["entropy"] == pytest.approx(expected)
    assert values["hunks"] == 3  # lines 2 and 8 are 6 apart: their contexts merge in a.py


def test_entropy_is_zero_for_one_file_and_maximal_for_an_even_spread():
    assert change_entropy([10]) == 0.0
    assert change_entropy([5, 5, 5, 5]) == pytest.approx(2.0)
    assert change_entropy([]) == 0.0 and change_entropy([0, 0]) == 0.0


def test_root_commit_is_diffed_against_the_empty_tree(repo: GitRepo):
    root = repo.commit("root", {"a.txt": lines(3), "dir/b.txt": lines(2)})
    assert first_parent(repo.path, root) == EMPTY_TREE
    values = features_of(repo, EMPTY_TREE, root)
    assert (values["la"], values["ld"], values["nf"]) == (5, 0, 2)


def test_binary_files_count_as_files_without_lines(repo: GitRepo):
    base = repo.commit("base", {"logo.png": b"\x89PNG\x00\x01\x02" * 50})
    head = repo.commit("new logo", {"logo.png": b"\x89PNG\x00\x09\x08" * 60, "a.py": "x\n"})
    changes, _ = changed_files(repo.path, base, head)
    by_path = {change.path: change for change in changes}
    assert by_path["logo.png"].binary and by_path["logo.png"].added == 0
    assert features_of(repo, base, head)["nf"] == 2


def test_renames_are_detected_and_counted_once(repo: GitRepo):
    base = repo.commit("base", {"old/name.py": lines(50)})
    (repo.path / "new").mkdir()
    repo.git("mv", "old/name.py", "new/name.py")
    head = repo.commit("move", {"new/name.py": lines(50) + "added\n"})
    changes, _ = changed_files(repo.path, base, head)
    assert [(c.path, c.added, c.deleted) for c in changes] == [("new/name.py", 1, 0)]


def test_non_utf8_paths_and_contents_do_not_break_parsing(repo: GitRepo):
    base = repo.commit("base", {"ok.txt": "a\n"})
    repo.write("caf\xe9.txt", b"caf\xe9 latin-1\n")
    repo.git("add", "-A")
    head = repo.commit("latin-1", {"naïve/ünïcode.py": "é\n"})
    values = features_of(repo, base, head)
    assert values["nf"] == 2 and values["la"] == 2


def test_empty_diff_gives_zeros_not_errors(repo: GitRepo):
    base = repo.commit("base", {"a": "a\n"})
    head = repo.commit("empty")
    values = features_of(repo, base, head)
    assert values["test_churn_ratio"] is None  # no source line changed: undefined, not zero
    del values["test_churn_ratio"]
    assert set(values.values()) == {0.0}


def test_huge_diff_falls_back_to_numstat_with_a_note(repo: GitRepo, monkeypatch):
    base = repo.commit("base", {"a.txt": "a\n"})
    head = repo.commit("generated", {"gen/big.txt": lines(20_000, "generated")})
    monkeypatch.setattr(diff_module, "MAX_PATCH_BYTES", 64 * 1024)
    changes, notes = changed_files(repo.path, base, head)
    vector = diff_features(changes)
    assert vector.values["la"] == 20_000 and vector.values["hunks"] is None
    assert notes and "hunks not counted" in notes[0]


def test_parse_patch_rejects_nothing_git_can_produce_for_a_mode_change(repo: GitRepo):
    base = repo.commit("base", {"run.sh": "echo hi\n"})
    (repo.path / "run.sh").chmod(0o755)
    repo.git("add", "run.sh")
    head = repo.commit("chmod")
    changes, notes = changed_files(repo.path, base, head)
    assert [(c.path, c.added, c.deleted) for c in changes] == [("run.sh", 0, 0)] and not notes


def test_parse_patch_of_an_empty_string_is_empty():
    assert parse_patch("") == []


file_names = st.sampled_from(["a.py", "b/c.py", "b/d/e.txt", "f g.md", "ü.txt"])
file_contents = st.lists(st.sampled_from(["x", "y", "z", "", "  indented", "é"]), max_size=30)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    before=st.dictionaries(file_names, file_contents, max_size=5),
    after=st.dictionaries(file_names, st.none() | file_contents, max_size=5),
)
def test_added_deleted_and_files_always_match_git_numstat(before, after):
    with tempfile.TemporaryDirectory() as directory:
        repo = GitRepo(Path(directory))
        base = repo.commit(
            "before", {name: "\n".join(body) + "\n" for name, body in before.items()}
        )
        changes = {
            name: None if body is None else "\n".join(body) + "\n"
            for name, body in after.items()
            if body is not None or name in before
        }
        head = repo.commit("after", changes)
        values = features_of(repo, base, head)
        added, deleted, files = repo.numstat(base, head)
        assert (values["la"], values["ld"], values["nf"]) == (added, deleted, files)


def test_a_200000_line_generated_diff_is_scored_in_bounded_memory(repo: GitRepo):
    import resource

    base = repo.commit("base", {"a.py": "x\n"})
    head = repo.commit("vendored", {"vendor/bundle.js": lines(200_000, "var x")})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    changes, _notes = changed_files(repo.path, base, head)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    values = diff_features(changes).values
    assert values["la"] == 200_000 and values["files_generated"] == 1
    assert grown_mib < 512, f"parsing a 200,000-line diff grew the process by {grown_mib:.0f} MiB"


def test_submodule_changes_count_as_a_file_without_lines(repo: GitRepo, tmp_path: Path):
    library = GitRepo(tmp_path / "library")
    first = library.commit("v1", {"lib.c": "int x;\n"})
    base = repo.commit("base", {"a.py": "x\n"})
    repo.git(
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "--quiet",
        "add",
        str(library.path),
        "third/lib",
    )
    with_module = repo.commit("add submodule")
    second = library.commit("v2", {"lib.c": "int y;\n"})
    repo.git("-C", "third/lib", "fetch", "--quiet")  # the submodule's own clone
    repo.git("-C", "third/lib", "checkout", "--quiet", second)
    repo.git("add", "third/lib")
    bumped = repo.commit("bump submodule")
    changes, notes = changed_files(repo.path, with_module, bumped)
    assert [(c.path, c.added, c.deleted) for c in changes] == [("third/lib", 1, 1)]
    assert first != second and not notes
    assert features_of(repo, base, bumped)["nf"] == 2  # .gitmodules and the submodule


def test_a_missing_base_commit_is_a_clear_error(repo: GitRepo):
    from gate.git.cmd import GitError

    head = repo.commit("only", {"a.py": "x\n"})
    with pytest.raises(GitError, match="git diff"):
        changed_files(repo.path, "0123456789abcdef0123456789abcdef01234567", head)
