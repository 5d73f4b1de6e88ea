"""Tests for the bundled default model: trained on labelled tables of mined repositories."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gate.features import CATALOG, FeatureVector
from gate.model.artifact import RiskModel, load_model
from training.bundle import (
    FEATURES,
    VALIDATION_BLOCK,
    VALIDATION_SHARE,
    Recipe,
    main,
    read_repositories,
    read_repository,
    split_repository,
    train_default_model,
    validation_block,
)
from training.train import TrainingError

REPO = Path(__file__).parents[2]
BUNDLED = REPO / "data" / "models" / "riskgate-apache4"  # the Apache-trained candidate
MIRRORS = Path("/work/.mirror")
APACHE = ("activemq", "groovy", "kafka", "zeppelin")
T0 = 1_400_000_000

needs_mirrors = pytest.mark.skipif(
    not all((MIRRORS / f"apache+{name}" / "repo").is_dir() for name in APACHE),
    reason=f"the Apache repositories are not mirrored under {MIRRORS} (CI has no copy)",
)


def labelled_table(seed: int, rows: int, ripe_share: float = 0.9) -> pd.DataFrame:
    """A table as `gate label` writes it: features, bug, labelled_until, fix_source."""
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({name: rng.gamma(2.0, 20.0, rows) for name in FEATURES})
    for share in ("nf_recent_rank", "exp_share", "ndev_share", "added_share", "deleted_share"):
        table[share] = rng.random(rows)
    risk = 1 / (1 + np.exp(-3 * (np.log1p(table["la"]) - 3.5) + rng.normal(0, 0.5, rows)))
    table.insert(0, "time", T0 + np.sort(rng.integers(0, 10**8, rows)))
    table.insert(0, "sha", [f"{seed:02d}{n:038x}" for n in range(rows)])
    until = int(table["time"].iloc[int(rows * ripe_share)])
    table["bug"] = pd.array((rng.random(rows) < risk).astype(int), dtype="Int8")
    table.loc[table["time"] > until, "bug"] = pd.NA
    table["labelled_until"] = until
    table["fix_source"] = "issue export (test)"
    return table


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("labelled")
    for seed, (name, rows) in enumerate([("alpha", 400), ("beta", 250), ("gamma", 300)]):
        labelled_table(seed, rows).to_parquet(directory / f"{name}.parquet", index=False)
    return directory


@pytest.fixture(scope="module")
def trained(tables: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("model")
    return out, train_default_model(tables, out, seed=0)


def test_a_table_without_labels_is_refused_with_the_step_to_run(tmp_path: Path) -> None:
    mined = labelled_table(1, 50).drop(columns=["bug", "labelled_until", "fix_source"])
    mined.to_parquet(tmp_path / "mined.parquet")

    with pytest.raises(TrainingError, match="run gate label"):
        read_repository(tmp_path / "mined.parquet")


def test_a_directory_needs_a_table_per_repository(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match="a labelled table per repository"):
        read_repositories(tmp_path)
    with pytest.raises(TrainingError, match="no such directory"):
        read_repositories(tmp_path / "nowhere")
    assert main(["--data-dir", str(tmp_path), "--out", str(tmp_path / "m")]) == 2


def test_only_ripe_labels_are_learnt_and_validation_is_interleaved_blocks(tables: Path) -> None:
    repo = read_repository(tables / "alpha.parquet")

    assert repo.rows["bug"].notna().all()
    assert (repo.rows["time"] <= repo.rows["labelled_until"]).all()
    train, validation = split_repository(repo.rows)
    assert set(train["sha"]).isdisjoint(validation["sha"])
    assert len(train) + len(validation) == len(repo.rows)
    # every fifth block of VALIDATION_BLOCK changes in time order: not only the newest
    positions = np.flatnonzero(repo.rows["sha"].isin(validation["sha"]).to_numpy())
    block = validation_block(len(repo.rows))
    assert block == min(VALIDATION_BLOCK, len(repo.rows) // 25)
    assert set(positions // block % 5) == {4}
    assert len(validation) <= len(repo.rows) * VALIDATION_SHARE + block


def test_the_artifact_records_what_it_learnt_from(trained: tuple[Path, dict], tables: Path):
    out, training = trained
    model = load_model(out)

    assert model.artifact.features == list(FEATURES)
    assert training["seed"] == 0
    repos = training["data"]["repositories"]
    assert set(repos) == {"alpha", "beta", "gamma"}
    alpha = pd.read_parquet(tables / "alpha.parquet")
    assert repos["alpha"]["newest_commit"] == alpha["sha"].iloc[-1]
    assert repos["alpha"]["commits_mined"] == len(alpha)
    assert repos["alpha"]["labelled"] == int(alpha["bug"].notna().sum())
    assert repos["alpha"]["failing"] == int(alpha["bug"].sum())
    assert repos["alpha"]["fix_source"] == "issue export (test)"
    assert set(training["leave_one_project_out"]) == set(repos)
    for row in training["leave_one_project_out"].values():
        assert 0.6 < row["auc"] <= 1.0  # la drives the synthetic risk


def test_same_tables_and_seed_give_the_same_model(
    trained: tuple[Path, dict], tables: Path, tmp_path: Path
) -> None:
    out, _ = trained

    train_default_model(tables, tmp_path, seed=0)

    assert (tmp_path / "model.json").read_bytes() == (out / "model.json").read_bytes()
    assert (tmp_path / "artifact.json").read_bytes() == (out / "artifact.json").read_bytes()


def test_another_seed_gives_another_model(trained: tuple[Path, dict], tables: Path, tmp_path):
    train_default_model(tables, tmp_path, seed=1)

    assert (tmp_path / "model.json").read_bytes() != (trained[0] / "model.json").read_bytes()


def test_gate_train_data_dir_retrains_it(tables: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "gate.cli.main", "train", "--data-dir", str(tables)]
    done = subprocess.run(
        [*command, "--out", str(tmp_path / "m")], capture_output=True, text=True, env=env
    )

    assert done.returncode == 0, done.stderr
    assert load_model(tmp_path / "m").artifact.features == list(FEATURES)
    refused = subprocess.run(
        [*command[:-1], str(tmp_path / "none"), "--out", str(tmp_path / "n")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert refused.returncode != 0 and "no such directory" in refused.stderr


def assert_more_change_never_lowers_risk(model: RiskModel) -> None:
    bases = itertools.product([0, 20, 400], [0, 50], [1, 10], [1, 4], [1, 3])
    grid = [0, 1, 3, 10, 40, 150, 700, 3000, 50_000]
    history = {"lt": 500.0, "ndev": 4.0, "age": 30.0, "nuc": 20.0, "exp": 200.0}
    for la, ld, nf, nd, ns in bases:
        base = {**history, "la": la, "ld": ld, "nf": nf, "nd": nd, "ns": ns}
        for name in ("la", "ld", "nf", "nd", "ns"):
            values = sorted({value for value in grid if name in ("la", "ld") or value < 200})
            scores = [
                model.score(FeatureVector(values={**base, name: v})).probability for v in values
            ]
            assert scores == sorted(scores), (name, base, scores)


def test_bundled_model_loads_and_was_trained_on_riskgate_features() -> None:
    model = load_model(BUNDLED)

    assert model.artifact.features == list(Recipe().features)
    assert all(name in CATALOG for name in model.artifact.features)
    training = model.artifact.training
    repos = training["data"]["repositories"]
    assert set(repos) <= set(APACHE)
    for name, repo in repos.items():
        assert repo["fix_source"].startswith("issue export"), name
        assert len(repo["newest_commit"]) == 40 and repo["failing"] > 0, name
    for name, row in training["leave_one_project_out"].items():
        assert 0.5 < row["auc"] <= 1.0, name


def test_bundled_model_never_scores_a_bigger_change_lower() -> None:
    assert_more_change_never_lowers_risk(load_model(BUNDLED))


@needs_mirrors
def test_bundled_model_names_commits_of_the_mirrored_repositories() -> None:
    repos = json.loads((BUNDLED / "artifact.json").read_text())["training"]["data"]["repositories"]
    for name, repo in repos.items():
        mirror = MIRRORS / f"apache+{name}" / "repo"
        for sha in (repo["newest_commit"], repo["first_labelled"]["sha"]):
            found = subprocess.run(
                ["git", "-C", str(mirror), "cat-file", "-e", f"{sha}^{{commit}}"], check=False
            )
            assert found.returncode == 0, (name, sha)
