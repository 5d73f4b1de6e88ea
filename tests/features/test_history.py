"""History features: values by hand, and the same vector from mining and from serving."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from gate.features.assemble import Services
from gate.features.compute import compute_features
from gate.features.gitlog import iter_records
from gate.features.history import (
    DAY,
    Change,
    CommitRecord,
    HistoryIndex,
    MessageRules,
    load_index,
    save_records,
)
from gate.features.indexes import HistoryIndexes
from gate.features.services import ServicesConfig
from gate.git.cmd import first_parent
from tests.gitrepo import GitRepo, lines
from training.mine import mine

ADA = "Ada Lovelace <ada@example.com>"
BOB = "Bob Babbage <bob@example.com>"
CY = "Cy Hopper <cy@example.com>"
T0 = 1_700_000_000


@pytest.fixture
def history(tmp_path: Path) -> tuple[GitRepo, dict[str, str]]:
    """A small project whose history we know commit by commit."""
    repo = GitRepo(tmp_path / "project")
    shas = {}
    shas["c1"] = repo.commit(
        "add api", {"api/views.py": lines(10), "api/models.py": lines(5)}, author=ADA, when=T0
    )
    shas["c2"] = repo.commit("add docs", {"docs/index.md": lines(3)}, author=BOB, when=T0 + 1 * DAY)
    shas["c3"] = repo.commit(
        "fix crash in views", {"api/views.py": lines(12)}, author=BOB, when=T0 + 9 * DAY
    )
    shas["c4"] = repo.commit(
        "tune models",
        {"api/models.py": lines(8), "web/app.js": lines(4)},
        author=ADA,
        when=T0 + 20 * DAY,
    )
    shas["c5"] = repo.commit(
        f'Revert "tune models"\n\nThis reverts commit {shas["c4"]}.',
        {"api/models.py": lines(5), "web/app.js": None},
        author=CY,
        when=T0 + 21 * DAY,
    )
    (repo.path / "core").mkdir()
    repo.git("mv", "api/views.py", "core/views.py")
    shas["c6"] = repo.commit(
        "move views", {"core/views.py": lines(12) + "moved\n"}, author=CY, when=T0 + 30 * DAY
    )
    # clock skew: committed "before" its parent
    shas["c7"] = repo.commit("skewed", {"api/models.py": lines(6)}, author=ADA, when=T0 + 25 * DAY)
    shas["c8"] = repo.commit(
        "views and models",
        {"core/views.py": lines(14), "api/models.py": lines(7)},
        author=BOB,
        when=T0 + 100 * DAY,
    )
    return repo, shas


def full_index(repo: GitRepo) -> HistoryIndex:
    index = HistoryIndex()
    for record in iter_records(repo.path, ["HEAD"], MessageRules()):
        index.add(record)
    return index


def test_kamei_values_by_hand_for_a_change_touching_two_files(history):
    repo, shas = history
    row = next(r for r in mine(repo.path) if r["sha"] == shas["c8"])
    # files before c8: core/views.py (history carried from api/views.py: c1, c3, c6),
    # api/models.py (c1, c4, c5, c7)
    assert row["nuc"] == 3 + 4 + 2
    assert row["ndev"] == 3  # ada, bob, cy
    last_views, last_models = T0 + 30 * DAY, T0 + 25 * DAY
    now = T0 + 100 * DAY
    assert row["age"] == pytest.approx(((now - last_views) + (now - last_models)) / 2 / DAY)
    assert row["min_file_age_days"] == pytest.approx(70)
    # bob's earlier file changes: c2 docs/index.md, c3 api/views.py -> 2, plus 2 files now
    assert row["exp"] == 4
    assert row["rexp"] == pytest.approx(1 / (1 + 99) + 1 / (1 + 91) + 2)
    assert row["sexp"] == 1  # of bob's earlier changes only api/views.py (c3) is in api/ or core/
    assert row["lt"] == 13 + 6  # core/views.py had 13 lines, api/models.py 6
    assert row["la"] == 2 + 1 and row["ld"] == 1 + 0


def test_sexp_counts_earlier_changes_in_the_same_subsystems(history):
    repo, shas = history
    rows = {r["sha"]: r for r in mine(repo.path)}
    # c4 by ada touches api/ and web/; ada changed api/views.py and api/models.py in c1
    assert rows[shas["c4"]]["sexp"] == 2
    assert rows[shas["c4"]]["exp"] == 2 + 2


def test_fixes_reverts_and_revert_share(history):
    repo, shas = history
    rows = {r["sha"]: r for r in mine(repo.path)}
    assert rows[shas["c3"]]["fix"] == 1 and rows[shas["c4"]]["fix"] == 0
    # c7 (ada, day 25) touches api/models.py: c5 reverted there 4 days before
    assert rows[shas["c7"]]["recent_reverts_90d"] == 1
    # ada's earlier commits before day 25: c1, c4; c4 was reverted on day 21
    assert rows[shas["c7"]]["author_revert_share"] == pytest.approx(1 / 2)
    assert rows[shas["c1"]]["author_revert_share"] is None  # no earlier commit
    # c8 (day 100): core/views.py was fixed on day 9, 91 days before: not counted
    assert rows[shas["c8"]]["recent_fixes_90d"] == 0


def test_a_pull_request_merge_line_is_no_fix(tmp_path: Path):
    rules = MessageRules()
    assert not rules.is_fix("Merge pull request #12 from ada/fix-crash")
    assert not rules.is_fix("Closes #7 from bob/bugfix")
    assert not rules.is_fix(
        "KAFKA-1: add a metric\n\nCloses #40 from cy/KAFKA-1 and squashes the following "
        "commits:\n\n0123abcd [cy] fix review comments\n4567ef01 [cy] fix checkstyle"
    )
    assert rules.is_fix("Merge pull request #12 from ada/patch-1\n\nFix the crash on empty input")
    assert rules.is_fix("Closes #7")  # GitHub's closing keyword, on its own line
    repo = GitRepo(tmp_path / "merged")
    repo.commit("add", {"a.py": lines(3)}, when=T0)
    merged = repo.commit("Closes #3 from ada/fix-a", {"a.py": lines(4)}, when=T0 + DAY)
    assert {r["sha"]: r for r in mine(repo.path)}[merged]["fix"] == 0


def test_only_history_before_the_change_is_used(history):
    repo, shas = history
    rows = {r["sha"]: r for r in mine(repo.path)}
    first = rows[shas["c1"]]
    assert (first["nuc"], first["ndev"], first["exp"], first["age"]) == (2, 1, 2, 0.0)
    assert first["author_new_to_service"] == 1 and first["min_file_age_days"] is None
    # c7 comes after c6 in the branch but its time (day 25) is before c6's (day 30): c7 must
    # not see c6
    assert rows[shas["c7"]]["nuc"] == 1 + 3  # api/models.py: c1, c4, c5 before day 25


def test_mining_and_serving_compute_identical_vectors_for_every_commit(history):
    """No training/serving skew: the miner's rows equal what the service computes."""
    repo, shas = history
    index = full_index(repo)  # the service's index holds the whole branch, later commits too
    mined = list(mine(repo.path))
    assert len(mined) == len(shas)
    for row in mined:
        served = compute_features(
            repo.path, first_parent(repo.path, row["sha"]), row["sha"], index=index
        ).vector.values
        for name, value in served.items():
            expected = row[name]
            if isinstance(value, float) and math.isnan(value):
                assert expected is None or math.isnan(expected)
            else:
                assert value == pytest.approx(expected), (row["sha"][:8], name)


def test_index_persists_and_updates_incrementally(history, tmp_path: Path):
    repo, _ = history
    mirror = tmp_path / "mirror.git"
    repo.git("clone", "--quiet", "--bare", str(repo.path), str(mirror))
    indexes = HistoryIndexes()
    index = indexes.update(mirror, "master")
    assert len(index) == 8
    before = HistoryIndexes.file_for(mirror).read_text().count("\n")

    new = repo.commit("one more", {"api/models.py": lines(9)}, author=ADA, when=T0 + 101 * DAY)
    repo.git("push", "--quiet", str(mirror), "master")
    updated = HistoryIndexes().update(mirror, "master")  # a restarted process
    assert len(updated) == 9 and new in updated
    after = HistoryIndexes.file_for(mirror).read_text().count("\n")
    assert after == before + 1  # only the new commit was read and appended


def test_a_torn_last_line_of_the_index_is_ignored(history, tmp_path: Path):
    repo, _ = history
    records = list(iter_records(repo.path, ["HEAD"], MessageRules()))
    path = tmp_path / "index.jsonl"
    save_records(records, path)
    with path.open("a") as out:
        out.write('["deadbeef", 17')
    assert len(load_index(path)) == len(records)


def test_services_from_a_mapping_replace_top_level_directories(history):
    repo, shas = history
    config = ServicesConfig.model_validate(
        {
            "backend": {"paths": ["api/", "core/"], "tier": "critical"},
            "frontend": {"paths": ["web/", "docs/"]},
        }
    )
    services = Services(config=config)
    rows = {r["sha"]: r for r in mine(repo.path, services=services)}
    c8 = rows[shas["c8"]]
    assert (c8["services_touched"], c8["max_service_tier"], c8["touches_critical"]) == (1, 2, 1)
    # backend commits in the 90 days before day 100: c3 (day 9) is out; c4, c5, c6, c7 in
    assert c8["service_changes_90d"] == 4 and c8["service_reverts_90d"] == 1
    assert c8["author_new_to_service"] == 0


def _changes_of(records: list[CommitRecord]) -> list[Change]:
    """Each indexed commit as a change to assess, at its own time."""
    changes = []
    for record in records:
        renamed = dict(record.renamed_from)
        old_paths = [renamed.get(path, path) for path in record.paths]
        changes.append(Change(record.time, record.author, "", old_paths, list(record.paths)))
    return changes


def test_queries_answer_the_same_whatever_order_commits_were_added_in(history):
    repo, _ = history
    newest_first = list(iter_records(repo.path, ["HEAD"], MessageRules()))
    oldest_first, shuffled = HistoryIndex(), HistoryIndex()
    for record in reversed(newest_first):
        oldest_first.add(record)
    for record in random.Random(7).sample(newest_first, len(newest_first)):
        shuffled.add(record)
    rules = MessageRules()
    for change in _changes_of(newest_first):
        assert shuffled.features(change, rules) == oldest_first.features(change, rules)


def test_an_index_that_grows_after_queries_answers_as_one_built_at_once(history):
    repo, _ = history
    records = list(reversed(list(iter_records(repo.path, ["HEAD"], MessageRules()))))
    config = ServicesConfig.model_validate({"backend": {"paths": ["api/", "core/"]}})
    mappings = [None, Services(), Services(config=config)]
    rules = MessageRules()
    growing = HistoryIndex()
    for record in records[:4]:
        growing.add(record)
    for change in _changes_of(records):  # builds every lazy structure on the first half
        for services in mappings:
            growing.features(change, rules, services)
    for record in records[4:]:
        growing.add(record)
    whole = full_index(repo)
    for change in _changes_of(records):
        for services in mappings:
            assert growing.features(change, rules, services) == whole.features(
                change, rules, services
            )


def test_equal_service_mappings_share_a_fingerprint_and_different_ones_do_not():
    config = ServicesConfig.model_validate({"backend": {"paths": ["api/"]}})
    other = ServicesConfig.model_validate({"backend": {"paths": ["core/"]}})
    assert Services(config=config).fingerprint == Services(config=config).fingerprint
    assert Services(config=config).fingerprint != Services(config=other).fingerprint
    assert Services().fingerprint != Services(config=config).fingerprint
