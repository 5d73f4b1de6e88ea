"""`gate train --dask-scheduler`: xgboost.dask on a local two-worker cluster, against in memory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gate.cli import training as cli_commands
from gate.model.artifact import load_model
from gate.settings import DEFAULT_MODEL_PATH
from gate.store import Database
from tests.repo_history import build_history, config_changes_fail
from tests.training.test_repo_model import options
from tests.training.test_train_evaluate import FAST, synthetic
from training.distributed import OnDask, dask_client, partitioned, read_table
from training.repo_model import train_repository
from training.train import TrainingError, train_model, train_rows, train_with

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
UNREACHABLE = "tcp://127.0.0.1:9"  # the discard port: nothing listens there


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    # separate worker processes, as on separate machines: nothing is shared but the scheduler
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def test_dask_training_matches_single_machine_quality(scheduler: str) -> None:
    table = synthetic(rows=3000, seed=5)
    local = train_rows(table, FAST)
    with dask_client(scheduler) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        on_cluster = train_with(OnDask(client, partitioned(client, table)), FAST)

    # the same periods: the split is cut at the same commit times
    assert on_cluster.training["rows"] == local.training["rows"]
    assert on_cluster.training["periods"] == local.training["periods"]
    assert on_cluster.features == local.features
    local_auc = local.training["metrics"]["test"]["auc_roc"]
    cluster_auc = on_cluster.training["metrics"]["test"]["auc_roc"]
    assert local_auc > 0.65
    assert cluster_auc == pytest.approx(local_auc, abs=0.02)
    held = on_cluster.training["metrics"]["validation"]["held_share"]
    assert 0.03 <= held <= 0.10


def test_train_command_reads_the_table_on_the_workers(scheduler: str, tmp_path: Path) -> None:
    table_path = tmp_path / "labelled.parquet"
    synthetic(rows=2000, seed=2).to_parquet(table_path)
    with dask_client(scheduler) as client:
        frame = read_table(table_path)
        training = train_model(table_path, tmp_path / "model", FAST, backend=OnDask(client, frame))

    model = load_model(tmp_path / "model")
    assert model.artifact.model_version.startswith("xgb-")
    assert training["metrics"]["test"]["auc_roc"] > 0.6
    assert sum(training["rows"].values()) == 1950  # the newest 50 are unlabelled


def test_a_repository_model_trains_on_the_cluster(scheduler: str, tmp_path: Path) -> None:
    repo = build_history(tmp_path / "repo", 200, config_changes_fail)
    db = Database(f"sqlite:///{tmp_path / 'gate.db'}")
    db.migrate()
    with dask_client(scheduler) as client:
        result = train_repository(
            repo.path,
            db,
            load_model(DEFAULT_MODEL_PATH),
            options(tmp_path),
            backend_for=lambda table: OnDask(client, partitioned(client, table)),
            show_progress=False,
        )
    db.dispose()
    assert result.state == "promoted"
    assert result.verdict.candidate.auc_roc > result.verdict.current.auc_roc
    assert load_model(result.path).version == result.model_version


def test_an_unreachable_scheduler_or_table_is_a_clear_error(tmp_path: Path) -> None:
    with (
        pytest.raises(TrainingError, match="cannot reach the Dask scheduler"),
        dask_client(UNREACHABLE, timeout_s=1),
    ):
        pass
    missing = tmp_path / "missing.parquet"
    assert cli_commands.train_command(missing, tmp_path / "m", dask_scheduler=UNREACHABLE) == 2
