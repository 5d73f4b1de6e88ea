"""The C-API row scorer: the xgboost package's margins and contributions, without its imports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from gate.model.artifact import load_model
from gate.model.booster import BoosterError, RowScorer
from gate.settings import DEFAULT_MODEL_PATH


def rows(features: int, count: int, seed: int) -> list[list[float | None]]:
    rng = np.random.default_rng(seed)
    values = rng.exponential(20.0, size=(count, features)).astype(np.float32)
    values[rng.random(values.shape) < 0.2] = np.nan
    values[0] = 0.0
    return [[None if np.isnan(v) else float(v) for v in row] for row in values]


def package_prediction(
    booster: xgb.Booster, row: list[float | None], names: list[str]
) -> tuple[float, list[float]]:
    matrix = xgb.DMatrix(
        np.array([row], dtype=np.float32), feature_names=names, missing=np.nan, nthread=1
    )
    margin = float(booster.predict(matrix, output_margin=True)[0])
    contributions = [float(v) for v in booster.predict(matrix, pred_contribs=True)[0]]
    return margin, contributions


def assert_same_as_package(model_file: Path, names: list[str], seed: int) -> None:
    scorer = RowScorer(model_file.read_bytes())
    booster = xgb.Booster(params={"nthread": 1})
    booster.load_model(str(model_file))
    for row in rows(len(names), 200, seed):
        assert scorer.margin_and_contributions(row, names) == package_prediction(
            booster, row, names
        )


def test_the_bundled_model_scores_exactly_as_the_xgboost_package_does():
    names = load_model(DEFAULT_MODEL_PATH).artifact.features
    assert_same_as_package(DEFAULT_MODEL_PATH / "model.json", names, seed=1)


def test_a_model_with_missing_values_and_many_trees_scores_exactly_as_the_package(tmp_path):
    rng = np.random.default_rng(7)
    names = [f"f{i}" for i in range(9)]
    data = rng.normal(size=(400, len(names)))
    data[rng.random(data.shape) < 0.3] = np.nan
    label = (np.nan_to_num(data[:, 0]) + rng.normal(size=400) > 0).astype(int)
    params = {"objective": "binary:logistic", "max_depth": 5, "nthread": 1, "seed": 3}
    trained = xgb.train(params, xgb.DMatrix(data, label=label, feature_names=names), 60)
    trained.save_model(str(tmp_path / "model.json"))
    assert RowScorer((tmp_path / "model.json").read_bytes()).feature_names == names
    assert_same_as_package(tmp_path / "model.json", names, seed=2)


def test_a_file_that_is_no_model_is_refused_with_libxgboosts_reason(tmp_path):
    (tmp_path / "model.json").write_text(json.dumps({"learner": "nonsense"}))
    with pytest.raises(BoosterError):
        RowScorer((tmp_path / "model.json").read_bytes())


def test_scoring_a_change_imports_neither_xgboost_nor_scipy_nor_sklearn_nor_pandas():
    script = (
        "import sys\n"
        "from gate.features import FeatureVector\n"
        "from gate.model.artifact import load_model\n"
        "from gate.settings import DEFAULT_MODEL_PATH\n"
        "model = load_model(DEFAULT_MODEL_PATH)\n"
        "model.score(FeatureVector(values={'la': 10.0}))\n"
        "print(sorted(m for m in ('xgboost', 'scipy', 'sklearn', 'pandas') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=os.environ, check=True
    )
    assert done.stdout.strip() == "[]"


def test_the_package_booster_is_there_for_batch_work_after_its_directory_is_gone(tmp_path):
    shutil.copytree(DEFAULT_MODEL_PATH, tmp_path / "model")
    model = load_model(tmp_path / "model")
    shutil.rmtree(tmp_path / "model")  # as a staged candidate's temporary directory is
    assert list(model.booster.feature_names or []) == model.artifact.features
    names = model.artifact.features
    row = rows(len(names), 1, seed=4)[0]
    assert package_prediction(model.booster, row, names) == model.scorer.margin_and_contributions(
        row, names
    )
