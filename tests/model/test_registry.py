"""Which model scores a repository's changes: its own promoted one with enough history, else
the default; a model in shadow is scored beside the decision and recorded, never acted on."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from gate.model.artifact import load_model
from gate.model.registry import HistoryMinimum, ModelRegistry
from gate.settings import DEFAULT_MODEL_PATH
from gate.store import Assessment, Database
from gate.store import repo_models as registry
from gate.store.tables import RepoModel
from tests.conftest import ProjectRepo, deliver, needs_shared, pr_payload, wait_until
from tests.gitrepo import lines
from tests.training.test_train_evaluate import FAST, synthetic
from training.train import train_rows, write_artifact

SHOP = "octo-org/shop"
ENOUGH = HistoryMinimum(rows=100, failures=10)


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two small models of different versions, trained as `gate train` trains them."""
    root = tmp_path_factory.mktemp("models")
    table = synthetic(rows=1500)
    first, second = root / "first", root / "second"
    write_artifact(train_rows(table, FAST), {}, first)
    write_artifact(train_rows(table, replace(FAST, seed=1)), {}, second)
    return first, second


def add(db: Database, path: Path, rows: int = 500, failures: int = 50, promote: bool = False):
    version = load_model(path).version
    registry.register(
        db,
        repository=SHOP,
        model_version=version,
        path=str(path),
        labelled_rows=rows,
        labelled_failures=failures,
        evaluation={"reason": "test"},
    )
    if promote:
        registry.promote(db, SHOP, version)
    return version


@pytest.fixture
def default():
    return load_model(DEFAULT_MODEL_PATH)


def test_migration_adds_the_registry_and_the_shadow_columns(db: Database) -> None:
    inspector = inspect(db.engine)
    assert "repo_models" in inspector.get_table_names()
    columns = {column["name"] for column in inspector.get_columns("assessments")}
    assert {"shadow_model_version", "shadow_score", "shadow_level"} <= columns


def test_without_a_repository_model_the_default_decides(db: Database, default) -> None:
    choice = ModelRegistry(db, default, ENOUGH).for_repository(SHOP)
    assert choice.model is default and choice.shadow is None


def test_a_promoted_model_with_enough_history_decides(
    db: Database, default, model_dirs: tuple[Path, Path]
) -> None:
    version = add(db, model_dirs[0], promote=True)
    choice = ModelRegistry(db, default, ENOUGH).for_repository(SHOP)
    assert choice.model.version == version and choice.shadow is None
    # another repository is not affected
    assert ModelRegistry(db, default, ENOUGH).for_repository("octo-org/other").model is default


def test_a_promoted_model_with_too_little_history_does_not(
    db: Database, default, model_dirs: tuple[Path, Path]
) -> None:
    add(db, model_dirs[0], rows=500, failures=9, promote=True)
    assert ModelRegistry(db, default, ENOUGH).for_repository(SHOP).model is default
    assert ModelRegistry(db, default, HistoryMinimum(500, 9)).for_repository(SHOP).model.version


def test_a_model_that_cannot_be_loaded_falls_back_to_the_default(
    db: Database, default, tmp_path: Path, model_dirs: tuple[Path, Path], caplog
) -> None:
    version = add(db, model_dirs[0], promote=True)
    with db.session() as session:
        row = session.scalar(select(RepoModel).where(RepoModel.repository == SHOP))
        row.path = str(tmp_path / "gone")
    with caplog.at_level(logging.WARNING):
        assert ModelRegistry(db, default, ENOUGH).for_repository(SHOP).model is default
    assert version in caplog.text and "not used" in caplog.text


def test_shadow_and_promotion_states(db: Database, default, model_dirs: tuple[Path, Path]) -> None:
    first = add(db, model_dirs[0])
    choice = ModelRegistry(db, default, ENOUGH).for_repository(SHOP)
    assert choice.model is default and choice.shadow is not None
    assert choice.shadow.version == first

    second = add(db, model_dirs[1])  # a newer shadow replaces the older one
    states = {row.model_version: row.state for row in registry.listing(db, SHOP)}
    assert states == {first: "retired", second: "shadow"}

    registry.promote(db, SHOP, second)
    registry.promote(db, SHOP, first)  # promoting another retires the promoted one
    states = {row.model_version: row.state for row in registry.listing(db, SHOP)}
    assert states == {first: "promoted", second: "retired"}
    assert add(db, model_dirs[0]) == first  # retraining to the same model keeps it promoted
    assert registry.active(db, SHOP).promoted.model_version == first


@needs_shared
def test_the_service_decides_with_the_repository_model_and_records_the_shadow(
    make_client, fake_github, remotes: Path, settings, model_dirs: tuple[Path, Path], default
) -> None:
    client = make_client(repo_model_min_rows=100, repo_model_min_failures=10)
    db = Database(settings.database_url)
    promoted = add(db, model_dirs[0], promote=True)
    shadow = add(db, model_dirs[1])
    shop = ProjectRepo(remotes, SHOP)
    other = ProjectRepo(remotes, "octo-org/other")
    for number, project in ((7, shop), (8, other)):
        head = project.pull_request(number, {"web/app.py": lines(80, "app") + "one more\n"})
        payload = pr_payload("opened", project.full_name, number, project.base, head)
        assert deliver(client, "pull_request", payload).status_code == 202
    for number, project in ((7, shop), (8, other)):
        wait_until(lambda n=number, p=project: fake_github.labels.get((p.full_name, n)))

    with db.session() as session:
        rows = {row.repository: row for row in session.scalars(select(Assessment))}
    db.dispose()
    scored = rows[SHOP]
    assert scored.model_version == promoted
    thresholds = load_model(model_dirs[0]).artifact.thresholds
    assert scored.level == thresholds.level(scored.score)
    assert scored.shadow_model_version == shadow
    assert 0.0 <= scored.shadow_score <= 1.0 and scored.shadow_level in ("low", "medium", "high")
    assert rows["octo-org/other"].model_version == default.version
    assert rows["octo-org/other"].shadow_model_version is None
