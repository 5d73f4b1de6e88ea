"""Tests for training the bundled default model from the ISSTA'21 JIT defect data."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from gate.features import FeatureVector
from gate.model.artifact import RiskModel, calibrate, load_model
from training.bundle import (
    HIGH_SHARE,
    MAX_CALIBRATION_POINTS,
    booster_probability,
    chronological_split,
    fit_calibration,
    main,
    pick_thresholds,
    train_default_model,
)
from training.issta21 import FEATURES, PROJECTS, DatasetError, load_projects

REPO = Path(__file__).parents[2]
DATASET = Path(__file__).parents[3] / "shared" / "datasets" / "jit" / "issta21-jit-dp"
BUNDLED = REPO / "data" / "models" / "default"
SMALL_PROJECTS = ("jdt", "gerrit")

needs_dataset = pytest.mark.skipif(
    not DATASET.is_dir(),
    reason=f"ISSTA'21 JIT-DP dataset not at {DATASET} (CI has it under ../shared)",
)

HEADER = ",_id,date,bug,__,ns,nd,nf,entrophy,la,ld,lt,fix,ndev,age,nuc,exp,rexp,sexp"
GOOD_ROWS = [
    "0,aaa1,1451624412,0,0,1,1,1,0.0,1,1,6374,1,35,16.3,527,3226,15.9,115",
    "1,aaa2,1451756065,1,1,2,3,4,1.5,120,30,88,0,4,112.9,4,11726,1566.7,956",
]


def write_csv(directory: Path, project: str, lines: list[str]) -> Path:
    path = directory / f"{project}_k_feature.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("small-model")
    return out, train_default_model(DATASET, out, seed=0, projects=SMALL_PROJECTS)


def test_loader_maps_the_dataset_columns_to_ours(tmp_path: Path) -> None:
    write_csv(tmp_path, "demo", [HEADER, *GOOD_ROWS])

    changes = load_projects(tmp_path, ["demo"])

    assert list(changes.columns) == ["project", "commit", "date", "bug", *FEATURES]
    assert changes["project"].tolist() == ["demo", "demo"]
    assert changes["commit"].tolist() == ["aaa1", "aaa2"]
    assert changes["bug"].tolist() == [0, 1]
    assert changes.loc[1, "entropy"] == 1.5
    assert changes.loc[1, ["la", "ld", "nf", "nd", "ns"]].tolist() == [120, 30, 4, 3, 2]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([HEADER.replace(",entrophy", ""), GOOD_ROWS[0]], "missing columns"),
        ([HEADER, GOOD_ROWS[0].replace(",0.0,1,1,6374", ",0.0,x,1,6374")], "'la'"),
        ([HEADER, GOOD_ROWS[0].replace(",1451624412,0,", ",1451624412,2,")], "bug"),
        ([HEADER, GOOD_ROWS[0].replace(",0.0,1,1,", ",0.0,-1,1,")], "negative"),
        ([HEADER], "no rows"),
        (['"unterminated,quote', "1,2"], "not a readable CSV"),
    ],
)
def test_loader_rejects_a_malformed_file(tmp_path: Path, lines: list[str], message: str) -> None:
    write_csv(tmp_path, "broken", lines)

    with pytest.raises(DatasetError, match=message):
        load_projects(tmp_path, ["broken"])


def test_loader_names_the_missing_file_and_directory(tmp_path: Path) -> None:
    write_csv(tmp_path, "gerrit", [HEADER, *GOOD_ROWS])

    with pytest.raises(DatasetError, match=r"go_k_feature\.csv: missing"):
        load_projects(tmp_path, ["gerrit", "go"])
    with pytest.raises(DatasetError, match="does not exist"):
        load_projects(tmp_path / "nowhere")


def test_cli_reports_a_missing_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m")]) == 2
    assert "does not exist" in capsys.readouterr().err


def synthetic_changes(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for project, rows in [("a", 101), ("b", 57)]:
        frame = pd.DataFrame({name: rng.integers(0, 50, rows).astype(float) for name in FEATURES})
        frame.insert(0, "bug", rng.integers(0, 2, rows))
        # few distinct dates, shuffled: ties and an unsorted file
        frame.insert(0, "date", rng.integers(1_500_000_000, 1_500_000_040, rows))
        frame.insert(0, "commit", [f"{project}{index}" for index in range(rows)])
        frame.insert(0, "project", project)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def test_split_is_chronological_within_each_project() -> None:
    changes = synthetic_changes()

    split = chronological_split(changes)

    for project, rows in changes.groupby("project"):
        parts = [
            part[part["project"] == project] for part in (split.train, split.validation, split.test)
        ]
        assert parts[0]["date"].max() <= parts[1]["date"].min()
        assert parts[1]["date"].max() <= parts[2]["date"].min()
        assert parts[0]["date"].max() <= parts[2]["date"].min()
        assert [len(part) for part in parts] == [
            int(len(rows) * 0.6),
            int(len(rows) * 0.8) - int(len(rows) * 0.6),
            len(rows) - int(len(rows) * 0.8),
        ]
        commits = [set(part["commit"]) for part in parts]
        assert set.union(*commits) == set(rows["commit"])
        assert sum(len(c) for c in commits) == len(rows)


def test_split_refuses_a_project_too_small_to_split() -> None:
    tiny = synthetic_changes().groupby("project").head(2)

    with pytest.raises(DatasetError, match="too few"):
        chronological_split(tiny)


def test_thresholds_hold_at_most_the_top_tenth_and_split_the_rest_at_the_median() -> None:
    scores = np.round(np.random.default_rng(2).beta(2, 5, 5000), 2)  # rounded: many ties

    thresholds = pick_thresholds(scores)

    high = thresholds.high_at_or_above
    assert (scores >= high).mean() <= HIGH_SHARE
    below_high = scores[scores < high].max()
    assert (scores >= below_high).mean() > HIGH_SHARE  # the smallest such score
    assert thresholds.low_below == np.median(scores)


def test_calibration_is_monotone_and_small() -> None:
    rng = np.random.default_rng(3)
    probability = rng.random(20_000)
    labels = (rng.random(20_000) < probability).astype(int)

    calibration = fit_calibration(probability, labels)

    assert calibration["method"] == "isotonic"
    assert 2 <= len(calibration["x"]) <= MAX_CALIBRATION_POINTS
    assert np.all(np.diff(calibration["x"]) > 0)
    assert np.all(np.diff(calibration["y"]) >= 0)


def test_calibration_top_does_not_rest_on_one_change() -> None:
    rng = np.random.default_rng(4)
    probability = np.append(rng.uniform(0.1, 0.5, 5000), 0.95)
    labels = np.append((rng.random(5000) < 0.3).astype(int), 1)

    calibration = fit_calibration(probability, labels)

    assert calibrate(0.95, calibration) < 0.6


def assert_more_change_never_lowers_risk(model: RiskModel) -> None:
    bases = itertools.product([0, 20, 400], [0, 50], [1, 10], [1, 4], [1, 3], [0.0, 3.0])
    grid = [0, 1, 3, 10, 40, 150, 700, 3000, 50_000]
    for la, ld, nf, nd, ns, entropy in bases:
        base = {"la": la, "ld": ld, "nf": nf, "nd": nd, "ns": ns, "entropy": entropy}
        for name in ("la", "ld", "nf", "nd", "ns"):
            values = sorted({value for value in grid if name in ("la", "ld") or value < 200})
            scores = [
                model.score(FeatureVector(values={**base, name: v})).probability for v in values
            ]
            assert scores == sorted(scores), (name, base, scores)


def test_bundled_model_loads_with_test_metrics_per_project() -> None:
    model = load_model(BUNDLED)

    assert model.artifact.features == list(FEATURES)
    training = model.artifact.training
    assert training["data"]["licence"] == "MIT"
    for project in PROJECTS:
        auc = training["test"]["projects"][project]["auc"]
        assert isinstance(auc, float) and 0.5 < auc <= 1.0, project
    assert 0.5 < training["test"]["pooled"]["auc"] <= 1.0


def test_bundled_model_never_scores_a_bigger_change_lower() -> None:
    assert_more_change_never_lowers_risk(load_model(BUNDLED))


@needs_dataset
def test_loader_reads_the_six_projects() -> None:
    changes = load_projects(DATASET)

    assert set(changes["project"]) == set(PROJECTS)
    assert list(changes.columns) == ["project", "commit", "date", "bug", *FEATURES]
    assert changes[list(FEATURES)].notna().all().all()
    assert set(changes["bug"]) == {0, 1}


@needs_dataset
def test_trained_model_loads_and_scores(small_model: tuple[Path, dict[str, Any]]) -> None:
    out, training = small_model

    model = load_model(out)

    assert model.artifact.features == list(FEATURES)
    assert list(model.booster.feature_names or []) == list(FEATURES)
    assert set(training["test"]["projects"]) == set(SMALL_PROJECTS)
    small = model.score(FeatureVector(values=dict.fromkeys(FEATURES, 1.0)))
    big = model.score(
        FeatureVector(values={"la": 900, "ld": 300, "nf": 30, "nd": 12, "ns": 4, "entropy": 4.0})
    )
    assert 0.0 <= small.probability < big.probability <= 1.0


@needs_dataset
def test_same_data_and_seed_give_the_same_model(
    small_model: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    out, _ = small_model

    train_default_model(DATASET, tmp_path, seed=0, projects=SMALL_PROJECTS)

    assert (tmp_path / "model.json").read_bytes() == (out / "model.json").read_bytes()


@needs_dataset
def test_trained_model_never_scores_a_bigger_change_lower(
    small_model: tuple[Path, dict[str, Any]],
) -> None:
    assert_more_change_never_lowers_risk(load_model(small_model[0]))


@needs_dataset
def test_trained_model_ranks_held_out_changes(small_model: tuple[Path, dict[str, Any]]) -> None:
    model = load_model(small_model[0])
    test = chronological_split(load_projects(DATASET, SMALL_PROJECTS)).test

    probability = booster_probability(model.booster, test)

    for project, rows in test.groupby("project"):
        mask = (test["project"] == project).to_numpy()
        assert roc_auc_score(rows["bug"], probability[mask]) > 0.6, project
