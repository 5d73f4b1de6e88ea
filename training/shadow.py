"""Shadow evaluation: a newly trained model beside the current one on the recent changes."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from gate.model.artifact import RiskModel
from training.evaluate import Scored, score_rows, seen_until
from training.metrics import pr_auc, roc_auc
from training.train import LABEL, TIME


@dataclass(frozen=True)
class PromotionRule:
    """Promote only on enough evidence, and only when the new model ranks the window better."""

    min_window_failures: int = 10  # and as many clean changes
    min_auc_gain: float = 0.01

    def describe(self) -> str:
        return (
            f"promote when the recent window holds at least {self.min_window_failures} failures "
            f"and {self.min_window_failures} clean changes, the new model's AUC there is at least "
            f"{self.min_auc_gain:g} above the current model's, and its PR-AUC is not lower"
        )


@dataclass(frozen=True)
class WindowFigures:
    model_version: str
    auc_roc: float | None
    pr_auc: float | None
    # the model was fitted, calibrated or thresholded on some of the window's changes, so its
    # figures there flatter it
    saw_window: bool


@dataclass(frozen=True)
class ShadowVerdict:
    promote: bool
    reason: str
    window: dict[str, Any]
    candidate: WindowFigures
    current: WindowFigures
    rule: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def compare(
    candidate: RiskModel,
    current: RiskModel,
    window: pd.DataFrame,
    rule: PromotionRule,
    repository: str,
) -> ShadowVerdict:
    """Score the window's labelled changes with both models, as the service would, and decide.

    The window must hold only changes of `repository` newer than the candidate's training and
    validation.
    """
    candidate_scored = score_rows(candidate, window)
    current_scored = score_rows(current, window)
    labels = candidate_scored.rows[LABEL].to_numpy()
    failures = int(labels.sum())
    clean = len(labels) - failures
    figures = {
        "new": _figures(candidate, labels, candidate_scored, repository),
        "current": _figures(current, labels, current_scored, repository),
    }
    times = candidate_scored.rows[TIME]
    promote, reason = decide(figures["new"], figures["current"], failures, clean, rule)
    return ShadowVerdict(
        promote=promote,
        reason=reason,
        window={
            "rows": len(labels),
            "failures": failures,
            "from": _iso(times.min()) if len(times) else None,
            "to": _iso(times.max()) if len(times) else None,
        },
        candidate=figures["new"],
        current=figures["current"],
        rule=rule.describe(),
    )


def decide(
    new: WindowFigures, current: WindowFigures, failures: int, clean: int, rule: PromotionRule
) -> tuple[bool, str]:
    """The promotion rule on the window's figures: (promote?, why in words)."""
    if min(failures, clean) < rule.min_window_failures:
        return False, (
            f"stays in shadow: the window has {failures} failures and {clean} clean changes, "
            f"fewer than the {rule.min_window_failures} of each needed to judge"
        )
    if new.auc_roc is None or current.auc_roc is None or new.pr_auc is None:
        return False, "stays in shadow: the window's figures could not be computed"
    gain = new.auc_roc - current.auc_roc
    if gain < rule.min_auc_gain:
        return False, (
            f"stays in shadow: AUC {new.auc_roc:.4f} against the current {current.auc_roc:.4f} "
            f"(gain {gain:+.4f}, {rule.min_auc_gain:g} needed)"
        )
    if current.pr_auc is not None and new.pr_auc < current.pr_auc:
        return False, (
            f"stays in shadow: PR-AUC {new.pr_auc:.4f} below the current {current.pr_auc:.4f}"
        )
    return True, (
        f"promoted: AUC {new.auc_roc:.4f} against the current {current.auc_roc:.4f}, PR-AUC "
        f"{new.pr_auc:.4f} against {_number(current.pr_auc)} on {failures + clean} recent changes"
    )


def _figures(
    model: RiskModel, labels: np.ndarray, scored: Scored, repository: str
) -> WindowFigures:
    return WindowFigures(
        model_version=model.version,
        auc_roc=_rounded(roc_auc(labels, scored.scores)),
        pr_auc=_rounded(pr_auc(labels, scored.scores)),
        saw_window=_saw(model, scored.rows, repository),
    )


def _saw(model: RiskModel, rows: pd.DataFrame, repository: str) -> bool:
    """Whether the model learnt from any of these changes: only a model trained on this
    repository can have (commit times of other repositories say nothing about these rows)."""
    training = model.artifact.training
    if (training.get("repository_model") or {}).get("repository") != repository:
        return False
    newest_seen = seen_until(training)
    return newest_seen is not None and bool((rows[TIME] <= newest_seen).any())


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(int(timestamp), UTC).isoformat()
