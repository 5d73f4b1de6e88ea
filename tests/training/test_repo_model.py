"""`gate train --repo`: one repository's model, judged in shadow on its recent changes and
promoted only when it ranks them better than the model in use; `gate models` lists them."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from gate.model.artifact import load_model
from gate.model.registry import HistoryMinimum, ModelRegistry
from gate.settings import DEFAULT_MODEL_PATH
from gate.store import AuditEntry, Database
from gate.store import repo_models as registry
from tests.conftest import gate
from tests.gitrepo import GitRepo
from tests.repo_history import build_history, config_changes_fail
from tests.training.test_train_evaluate import FAST
from training.repo_model import RepoTraining, repository_name, train_repository
from training.shadow import PromotionRule, WindowFigures, decide
from training.train import TrainingError

CHANGES = 250
REPOSITORY = "octo-org/shop"
# small enough for a test repository; the service's defaults ask for 300 changes and 30 failures
MINIMUM = HistoryMinimum(rows=100, failures=20)
RULE = PromotionRule(min_window_failures=5, min_auc_gain=0.01)


def options(root: Path, **changes: object) -> RepoTraining:
    settings: dict[str, object] = {
        "repository": REPOSITORY,
        "model_root": root / "models",
        "minimum": MINIMUM,
        "rule": RULE,
        "config": FAST,
        "recent_days": 0,
        **changes,
    }
    return RepoTraining(**settings)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def config_failures(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    """Config edits fail, source edits do not: the bundled model, which knows only size and
    history, ranks the failures last; a model of this history can learn it."""
    return build_history(tmp_path_factory.mktemp("stable") / "repo", CHANGES, config_changes_fail)


@pytest.fixture(scope="module")
def drifting_failures(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    """Config edits fail until the last quarter, then source edits do: what the new model
    learnt from the past is wrong on the recent window, where size ranks well."""

    def fails(number: int, kind: str) -> bool:
        return kind == ("config" if number < 0.75 * CHANGES else "source")

    return build_history(tmp_path_factory.mktemp("drift") / "repo", CHANGES, fails)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'gate.db'}")
    database.migrate()
    return database


def default_model():
    return load_model(DEFAULT_MODEL_PATH)


def audit_actions(db: Database) -> list[AuditEntry]:
    with db.session() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def test_a_model_better_on_the_recent_window_is_promoted(
    config_failures: GitRepo, db: Database, tmp_path: Path
) -> None:
    result = train_repository(
        config_failures.path, db, default_model(), options(tmp_path), show_progress=False
    )

    verdict = result.verdict
    assert verdict.current.model_version == default_model().version
    assert verdict.window["failures"] >= RULE.min_window_failures
    assert verdict.candidate.auc_roc >= verdict.current.auc_roc + RULE.min_auc_gain
    assert verdict.candidate.pr_auc >= verdict.current.pr_auc
    assert verdict.promote and result.state == "promoted"
    # the window is the new model's own test period: never fitted on
    assert verdict.window["rows"] == result.training["rows"]["test"]
    assert not verdict.candidate.saw_window
    assert result.path == tmp_path / "models" / "octo-org" / "shop" / result.model_version

    artifact = json.loads((result.path / "artifact.json").read_text())["training"]
    assert artifact["shadow"]["candidate"]["auc_roc"] == verdict.candidate.auc_roc
    assert artifact["shadow"]["current"]["auc_roc"] == verdict.current.auc_roc
    assert artifact["repository_model"]["labelled_history"] == {
        "rows": result.labelled_rows,
        "failures": result.labelled_failures,
    }
    assert artifact["repository_model"]["minimum"] == {"rows": 100, "failures": 20}
    labels = artifact["data"]["labels"]  # failures found both by their reverts and by SZZ
    assert labels["by_revert"] > 0 and labels["by_szz"] > 0
    assert labels["failing"] == result.labelled_failures

    found = registry.active(db, REPOSITORY)
    assert found.promoted is not None and found.promoted.model_version == result.model_version
    assert found.shadow is None
    entries = audit_actions(db)
    assert [entry.action for entry in entries] == ["model.shadow", "model.promoted"]
    assert entries[1].details["candidate"]["auc_roc"] == verdict.candidate.auc_roc
    assert entries[1].details["current"]["auc_roc"] == verdict.current.auc_roc

    choice = ModelRegistry(db, default_model(), MINIMUM).for_repository(REPOSITORY)
    assert choice.model.version == result.model_version and choice.shadow is None


def test_a_model_worse_on_the_recent_window_stays_in_shadow(
    drifting_failures: GitRepo, db: Database, tmp_path: Path
) -> None:
    result = train_repository(
        drifting_failures.path, db, default_model(), options(tmp_path), show_progress=False
    )

    verdict = result.verdict
    assert verdict.window["failures"] >= RULE.min_window_failures
    assert verdict.candidate.auc_roc < verdict.current.auc_roc
    assert not verdict.promote and result.state == "shadow"
    assert "stays in shadow" in verdict.reason
    entries = audit_actions(db)
    assert [entry.action for entry in entries] == ["model.shadow", "model.kept_in_shadow"]
    assert entries[1].details["candidate"]["auc_roc"] == verdict.candidate.auc_roc

    # the service keeps deciding with the default, and scores beside it with the new model
    choice = ModelRegistry(db, default_model(), MINIMUM).for_repository(REPOSITORY)
    assert choice.model.version == default_model().version
    assert choice.shadow is not None and choice.shadow.version == result.model_version


def test_promote_never_keeps_a_better_model_in_shadow_and_a_later_one_replaces_it(
    config_failures: GitRepo, db: Database, tmp_path: Path
) -> None:
    first = train_repository(
        config_failures.path,
        db,
        default_model(),
        options(tmp_path, promote="never"),
        show_progress=False,
    )
    assert first.verdict.promote and first.state == "shadow"
    (kept,) = [e for e in audit_actions(db) if e.action == "model.kept_in_shadow"]
    assert "--promote never" in kept.reason

    tuned = options(tmp_path, config=replace(FAST, seed=1))
    second = train_repository(config_failures.path, db, default_model(), tuned, show_progress=False)
    assert second.model_version != first.model_version and second.state == "promoted"
    states = {row.model_version: row.state for row in registry.listing(db, REPOSITORY)}
    assert states == {first.model_version: "retired", second.model_version: "promoted"}


def test_too_little_labelled_history_keeps_the_default(
    config_failures: GitRepo, db: Database, tmp_path: Path
) -> None:
    too_much = options(tmp_path, minimum=HistoryMinimum(rows=100, failures=500))
    with pytest.raises(TrainingError, match="needs at least 100 and 500"):
        train_repository(config_failures.path, db, default_model(), too_much, show_progress=False)
    assert registry.listing(db) == []


@pytest.mark.covers("train --repo --repository --recent-days --json", "models --json")
def test_gate_train_repo_and_gate_models(config_failures: GitRepo, tmp_path: Path) -> None:
    env = {
        "GATE_DATABASE_URL": f"sqlite:///{tmp_path / 'gate.db'}",
        "GATE_MODEL_DIR": str(tmp_path / "models"),
        "GATE_REPO_MODEL_MIN_ROWS": "100",
        "GATE_REPO_MODEL_MIN_FAILURES": "20",
        "GATE_PROMOTION_MIN_WINDOW_FAILURES": "5",
    }
    done = gate(
        "train",
        "--repo",
        str(config_failures.path),
        "--repository",
        REPOSITORY,
        "--recent-days",
        "0",
        "--json",
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    trained = json.loads(done.stdout)
    assert trained["state"] == "promoted"
    assert trained["labelled_history"]["failures"] >= 20
    assert Path(trained["path"]).parent == tmp_path / "models" / "octo-org" / "shop"
    assert "mining" in done.stderr or "features" in done.stderr  # progress on stderr

    listed = gate("models", "--json", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    (model,) = json.loads(listed.stdout)
    assert (model["repository"], model["model_version"], model["state"]) == (
        REPOSITORY,
        trained["model_version"],
        "promoted",
    )
    assert model["new"]["auc_roc"] == trained["shadow"]["candidate"]["auc_roc"]
    assert model["current"]["model_version"] == default_model().version

    table = gate("models", cwd=tmp_path, env={**env, "COLUMNS": "200"})
    assert trained["model_version"] in table.stdout and "promoted" in table.stdout


@pytest.mark.covers("train --repo")
def test_gate_train_repo_without_a_name_is_a_clear_error(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "project")
    repo.commit("only", {"a.py": "x\n"})
    done = gate("train", "--repo", str(repo.path), cwd=tmp_path)
    assert done.returncode == 2
    assert "--repository" in done.stderr


@pytest.mark.covers("train --repo --repository --issues")
def test_gate_train_repo_takes_an_issue_export(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "project")
    repo.commit("only", {"a.py": "x\n"})
    issues = tmp_path / "issues.csv"
    issues.write_text("summary,priority\nx,Major\n")
    done = gate(
        "train",
        "--repo",
        str(repo.path),
        "--repository",
        REPOSITORY,
        "--issues",
        str(issues),
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "needs a key column" in done.stderr


def figures(auc: float | None, pr_auc: float | None) -> WindowFigures:
    return WindowFigures("v", auc, pr_auc, saw_window=False)


@pytest.mark.parametrize(
    ("new", "current", "failures", "promote", "why"),
    [
        (figures(0.80, 0.50), figures(0.70, 0.40), 10, True, "promoted"),
        (figures(0.80, 0.50), figures(0.70, 0.40), 4, False, "fewer than the 5"),
        (figures(0.705, 0.50), figures(0.70, 0.40), 10, False, "gain +0.0050"),
        (figures(0.80, 0.35), figures(0.70, 0.40), 10, False, "PR-AUC 0.3500 below"),
        (figures(None, None), figures(0.70, 0.40), 10, False, "could not be computed"),
    ],
)
def test_the_promotion_rule(
    new: WindowFigures, current: WindowFigures, failures: int, promote: bool, why: str
) -> None:
    decided, reason = decide(new, current, failures, clean=50, rule=RULE)
    assert decided is promote
    assert why in reason


def test_the_repository_name_comes_from_the_origin_remote(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "clone")
    assert repository_name(repo.path) is None
    repo.git("remote", "add", "origin", "https://github.com/octo-org/shop")
    for url in (
        "https://github.com/octo-org/shop",
        "git@github.com:octo-org/shop.git",
        "ssh://git@ghe.example.com/octo-org/shop.git/",
    ):
        repo.git("remote", "set-url", "origin", url)
        assert repository_name(repo.path) == "octo-org/shop"
