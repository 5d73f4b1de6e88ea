"""Model artifacts: load a versioned XGBoost model, score a feature vector, explain the score."""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from gate.features import CATALOG, FEATURE_SCHEMA_VERSION, FeatureVector
from gate.model.booster import BoosterError, RowScorer

if TYPE_CHECKING:
    import xgboost as xgb

ARTIFACT_FORMAT = 1
ARTIFACT_FILE = "artifact.json"
BOOSTER_FILE = "model.json"

Level = Literal["low", "medium", "high"]


class ModelError(RuntimeError):
    """The model artifact is missing, unreadable or does not fit this service's features."""


@dataclass(frozen=True)
class Thresholds:
    low_below: float
    high_at_or_above: float

    def level(self, score: float) -> Level:
        if score >= self.high_at_or_above:
            return "high"
        return "low" if score < self.low_below else "medium"


@dataclass(frozen=True)
class Score:
    probability: float
    level: Level
    # contribution of each feature to the log-odds, from XGBoost's pred_contribs
    contributions: dict[str, float]
    bias: float


@dataclass
class Artifact:
    """What a model directory holds besides the booster itself."""

    model_version: str
    features: list[str]
    thresholds: Thresholds
    calibration: dict[str, Any] | None = None
    training: dict[str, Any] = field(default_factory=dict)
    feature_schema_version: str = FEATURE_SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "format": ARTIFACT_FORMAT,
            "model_version": self.model_version,
            "feature_schema": {"version": self.feature_schema_version, "features": self.features},
            "thresholds": {
                "low_below": self.thresholds.low_below,
                "high_at_or_above": self.thresholds.high_at_or_above,
            },
            "calibration": self.calibration,
            "training": self.training,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Artifact:
        if data.get("format") != ARTIFACT_FORMAT:
            raise ModelError(f"artifact format {data.get('format')!r}, expected {ARTIFACT_FORMAT}")
        try:
            schema = data["feature_schema"]
            thresholds = Thresholds(**data["thresholds"])
            return cls(
                model_version=data["model_version"],
                features=list(schema["features"]),
                thresholds=thresholds,
                calibration=data.get("calibration"),
                training=data.get("training", {}),
                feature_schema_version=str(schema["version"]),
            )
        except (KeyError, TypeError) as error:
            raise ModelError(f"artifact is missing or has a malformed field: {error}") from None


class RiskModel:
    """A loaded model: thread-safe scoring and per-feature explanations.

    Scoring goes through `RowScorer` (libxgboost without `import xgboost`); `booster`, the
    xgboost package's Booster for batch work (training, evaluation), loads on first use.
    """

    def __init__(self, saved: bytes, artifact: Artifact) -> None:
        self.scorer = RowScorer(saved)
        self.artifact = artifact
        self._saved = saved  # the booster file's bytes: the directory may be gone by first use
        self._booster: xgb.Booster | None = None
        self._lock = threading.Lock()

    @property
    def booster(self) -> xgb.Booster:
        with self._lock:
            if self._booster is None:
                import xgboost as xgb

                booster = xgb.Booster(params={"nthread": 1})
                booster.load_model(bytearray(self._saved))
                self._booster = booster
            return self._booster

    @property
    def version(self) -> str:
        return self.artifact.model_version

    def score(self, vector: FeatureVector) -> Score:
        if vector.schema_version != self.artifact.feature_schema_version:
            raise ModelError(
                f"feature schema {vector.schema_version} does not match the model's "
                f"{self.artifact.feature_schema_version}"
            )
        features = self.artifact.features
        # the margin from its own prediction: the contributions' float sum is not exactly it,
        # and the monotone constraints hold exactly only for the margin; one thread, as one
        # row costs xgboost's thread teams more than they save (32 ms vs 0.3 ms under load)
        margin, contribs = self.scorer.margin_and_contributions(
            [vector.get(name) for name in features], features
        )
        probability = calibrate(1.0 / (1.0 + math.exp(-margin)), self.artifact.calibration)
        return Score(
            probability=probability,
            level=self.artifact.thresholds.level(probability),
            contributions={
                name: float(value)
                for name, value in zip(self.artifact.features, contribs[:-1], strict=True)
            },
            bias=float(contribs[-1]),
        )


def calibrate(probability: float, calibration: dict[str, Any] | None) -> float:
    """Map the booster's probability through the stored calibration (isotonic, piecewise linear)."""
    if not calibration:
        return probability
    if calibration.get("method") != "isotonic":
        raise ModelError(f"unknown calibration method {calibration.get('method')!r}")
    return float(np.interp(probability, calibration["x"], calibration["y"]))


def load_model(directory: Path) -> RiskModel:
    artifact_path = directory / ARTIFACT_FILE
    booster_path = directory / BOOSTER_FILE
    if not artifact_path.is_file() or not booster_path.is_file():
        raise ModelError(f"no model at {directory}: expected {ARTIFACT_FILE} and {BOOSTER_FILE}")
    try:
        artifact = Artifact.from_json(json.loads(artifact_path.read_text()))
    except json.JSONDecodeError as error:
        raise ModelError(f"{artifact_path}: not JSON ({error})") from None
    _check_schema(artifact, directory)
    try:
        model = RiskModel(booster_path.read_bytes(), artifact)
        names = model.scorer.feature_names
    except BoosterError as error:
        raise ModelError(f"{booster_path}: not an XGBoost model ({error})") from None
    if names and names != artifact.features:
        raise ModelError(
            f"{directory}: booster features {names} differ from the artifact's {artifact.features}"
        )
    return model


def _check_schema(artifact: Artifact, directory: Path) -> None:
    if artifact.feature_schema_version != FEATURE_SCHEMA_VERSION:
        raise ModelError(
            f"{directory}: model built for feature schema {artifact.feature_schema_version}, "
            f"this service computes schema {FEATURE_SCHEMA_VERSION}; retrain or pick another model"
        )
    unknown = [name for name in artifact.features if name not in CATALOG]
    if unknown:
        raise ModelError(
            f"{directory}: model uses features this service does not compute: {unknown}"
        )
    lo, hi = artifact.thresholds.low_below, artifact.thresholds.high_at_or_above
    if not 0.0 <= lo <= hi <= 1.0:
        raise ModelError(
            f"{directory}: thresholds must satisfy 0 <= low_below <= high_at_or_above <= 1"
        )


def save_model(booster: xgb.Booster, artifact: Artifact, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(directory / BOOSTER_FILE))
    (directory / ARTIFACT_FILE).write_text(json.dumps(artifact.to_json(), indent=2) + "\n")
