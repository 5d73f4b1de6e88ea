"""Recent changes scored, kept and scored again; `gate assess` deciding by them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from gate.features.gitlog import iter_records
from gate.features.history import DAY, HistoryIndex, MessageRules
from gate.model.artifact import load_model
from gate.policy.shares import Distribution
from gate.pulls import calibration
from gate.pulls.calibration import (
    calibrate,
    ensure,
    load,
    local_scores_file,
    recent_changes,
    save,
    stale,
)
from gate.settings import DEFAULT_MODEL_PATH
from tests.conftest import gate
from tests.gitrepo import fast_commits

START = 1_700_000_000


def history(path: Path, count: int, step: int = 8 * 3600) -> Path:
    """A repository of `count` commits, `step` seconds apart, of varied size."""
    subprocess.run(["git", "init", "--quiet", "--initial-branch=main", str(path)], check=True)
    fast_commits(path, "main", count, START, step)
    subprocess.run(["git", "-C", str(path), "checkout", "--quiet", "main"], check=True)
    return path


def index_of(repo: Path) -> HistoryIndex:
    index = HistoryIndex()
    for record in iter_records(repo, ["main"], MessageRules()):
        index.add(record)
    return index


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return history(tmp_path_factory.mktemp("calibration") / "busy", 400)


@pytest.fixture(scope="module")
def model():
    return load_model(DEFAULT_MODEL_PATH)


def test_the_window_is_the_last_90_days_or_the_last_200_changes(repo: Path):
    newest = START + 399 * 8 * 3600
    window = recent_changes(repo, "main", newest)
    # three commits a day: 90 days hold 270 of them (and the newest one)
    assert (len(window.changes), window.days) == (271, 90)
    base, _ = window.changes[0]
    assert base == calibration.git(repo, "rev-parse", "main^").decode().strip()
    # a year later nothing is recent: its last 200 changes instead
    later = recent_changes(repo, "main", newest + 365 * DAY)
    assert (len(later.changes), later.days) == (200, None)
    assert later.changes[:5] == window.changes[:5]
    # the root commit has no parent to compare against
    assert len(recent_changes(repo, "main", newest, at_least=1000).changes) == 399


def test_a_calibration_scores_each_change_as_the_check_does(repo: Path, model):
    index = index_of(repo)
    newest = START + 399 * 8 * 3600
    distribution = calibrate(repo, "main", model, index=index, now=newest)
    assert distribution.count == 271 and distribution.days == 90 and distribution.enough
    assert distribution.model_version == model.version
    assert list(distribution.scores) == sorted(distribution.scores)
    assert len(set(distribution.scores)) > 50  # the changes differ, so do their scores
    thresholds = distribution.thresholds(0.05, 0.15)
    n = distribution.count

    def at_or_above(value: float) -> int:
        return sum(score >= value for score in distribution.scores)

    # changes that score alike fall on one side: each threshold is the closest the ties allow
    for share, threshold in ((0.05, thresholds.high_at_or_above), (0.2, thresholds.low_below)):
        gap = abs(at_or_above(threshold) - share * n)
        assert gap <= min(abs(at_or_above(value) - share * n) for value in distribution.scores)
    assert abs(at_or_above(thresholds.low_below) / n - 0.2) < 0.01


def test_the_distribution_is_calibrated_again_when_stale(tmp_path: Path, model):
    repo = history(tmp_path / "growing", 130)
    index = index_of(repo)
    path = tmp_path / "scores.json"
    assert stale(None, repo, "main", model.version) == "not calibrated yet"
    first = ensure(path, repo, "main", model, index=index, now=START)
    assert load(path) == first and first.count == 129 and first.days is None
    assert stale(first, repo, "main", model.version) == ""
    assert stale(first, repo, "main", "another-model") == (f"calibrated for model {model.version}")
    # a few new changes leave it standing; twenty make it stale
    more = history(tmp_path / "more", 150)  # the same first 130 commits, then 20 more
    assert stale(first, more, "main", model.version) == "20 new changes since it was calibrated"
    grown = ensure(path, more, "main", model, index=index_of(more), now=START)
    assert grown.count == 149 and load(path) == grown


def test_an_unreadable_file_is_calibrated_again(tmp_path: Path):
    path = tmp_path / "scores.json"
    path.write_text("{not json")
    assert load(path) is None
    assert load(tmp_path / "missing.json") is None
    distribution = Distribution.of([0.2, 0.1], "m", "abc", None, 1)
    save(path, distribution)
    assert load(path) == distribution and list(tmp_path.iterdir()) == [path]


def assess_json(repo: Path, cwd: Path) -> dict:
    done = gate("assess", "--repo", str(repo), "--json", "--no-record", cwd=cwd, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_gate_assess_ranks_the_change_among_the_repositorys_own(tmp_path: Path):
    repo = history(tmp_path / "project", 160)
    seen = assess_json(repo, tmp_path)
    assert seen["rank"].startswith("riskier than ")
    assert seen["rank"].endswith("% of this repository's last 158 changes")
    assert seen["rules"][0].startswith("repository shares (hold the riskiest 5%: at or above ")
    assert seen["rules"][0].endswith(f"of its last 158 changes) -> {seen['level']}")
    cached = local_scores_file(repo)
    assert cached == repo / ".git" / "riskgate-scores.json"
    kept = load(cached)
    assert kept is not None and kept.count == 158
    stamp = cached.stat().st_mtime_ns
    plain = gate("assess", "--repo", str(repo), "--no-record", cwd=tmp_path, timeout=300)
    assert plain.returncode == 0, plain.stderr
    assert seen["rank"] in plain.stdout
    assert cached.stat().st_mtime_ns == stamp  # the second run read the kept scores


def test_gate_assess_on_a_young_repository_keeps_the_models_thresholds(tmp_path: Path):
    repo = history(tmp_path / "young", 30)
    seen = assess_json(repo, tmp_path)
    assert seen["rank"] is None
    assert seen["rules"][0] == (
        "model thresholds: 28 of this repository's changes scored, 100 needed to hold its "
        f"riskiest 5% -> {seen['level']}"
    )
