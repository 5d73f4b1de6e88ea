"""Model artifacts: loading refuses what does not fit; scores and explanations are consistent."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from gate.features import FeatureVector
from gate.model.artifact import ModelError, Thresholds, load_model
from gate.model.explain import reasons
from gate.settings import DEFAULT_MODEL_PATH


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_PATH, target)
    return target


def edit_artifact(directory: Path, change) -> None:
    path = directory / "artifact.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def vector(**values: float) -> FeatureVector:
    base = {"la": 10, "ld": 2, "nf": 1, "nd": 1, "ns": 1, "entropy": 0.0, "hunks": 1}
    return FeatureVector(values={**base, **values})


def test_bundled_model_loads_and_scores_a_probability():
    model = load_model(DEFAULT_MODEL_PATH)
    score = model.score(vector())
    assert 0.0 <= score.probability <= 1.0
    assert score.level in ("low", "medium", "high")


def test_contributions_add_up_to_the_models_margin():
    model = load_model(DEFAULT_MODEL_PATH)
    score = model.score(vector(la=500, nf=7))
    margin = sum(score.contributions.values()) + score.bias
    uncalibrated = 1 / (1 + math.exp(-margin))
    assert model.artifact.calibration is None or 0 <= uncalibrated <= 1
    if model.artifact.calibration is None:
        assert score.probability == pytest.approx(uncalibrated, rel=1e-5)


def test_missing_feature_values_are_scored_not_refused():
    model = load_model(DEFAULT_MODEL_PATH)
    score = model.score(FeatureVector(values={"la": 100, "ld": None, "nf": 3}))
    assert 0.0 <= score.probability <= 1.0


def test_schema_version_mismatch_is_refused_with_a_clear_error(model_copy: Path):
    edit_artifact(model_copy, lambda a: a["feature_schema"].update(version="0"))
    with pytest.raises(ModelError, match=r"feature schema 0.*retrain"):
        load_model(model_copy)


def test_feature_the_service_does_not_compute_is_refused(model_copy: Path):
    edit_artifact(model_copy, lambda a: a["feature_schema"]["features"].append("sexp"))
    with pytest.raises(ModelError, match="sexp"):
        load_model(model_copy)


def test_missing_or_corrupt_files_are_clear_errors(model_copy: Path, tmp_path: Path):
    with pytest.raises(ModelError, match="no model"):
        load_model(tmp_path / "nowhere")
    (model_copy / "artifact.json").write_text("{not json")
    with pytest.raises(ModelError, match="not JSON"):
        load_model(model_copy)


def test_thresholds_out_of_order_are_refused(model_copy: Path):
    edit_artifact(model_copy, lambda a: a["thresholds"].update(low_below=0.9, high_at_or_above=0.1))
    with pytest.raises(ModelError, match="thresholds"):
        load_model(model_copy)


def test_levels_follow_the_thresholds():
    thresholds = Thresholds(low_below=0.2, high_at_or_above=0.6)
    assert [thresholds.level(p) for p in (0.0, 0.19, 0.2, 0.59, 0.6, 1.0)] == [
        "low",
        "low",
        "medium",
        "medium",
        "high",
        "high",
    ]


def test_more_added_lines_never_lower_the_risk():
    model = load_model(DEFAULT_MODEL_PATH)
    scores = [model.score(vector(la=la)).probability for la in (1, 10, 50, 200, 1000, 5000)]
    assert scores == sorted(scores)


def test_reasons_are_the_largest_positive_contributions_in_words():
    model = load_model(DEFAULT_MODEL_PATH)
    big = vector(la=1840, ld=300, nf=14, nd=6, ns=3, entropy=3.1)
    score = model.score(big)
    found = reasons(big, score)
    assert found, "a 1,840-line change must have reasons"
    assert [r.contribution for r in found] == sorted((r.contribution for r in found), reverse=True)
    assert all(r.contribution > 0 for r in found)
    texts = {r.feature: r.text for r in found}
    if "la" in texts:
        assert texts["la"] == "1,840 lines added"
