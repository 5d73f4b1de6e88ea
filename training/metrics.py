"""Evaluation figures: ranking, thresholds, calibration and effort-aware (per changed line)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from gate.model.artifact import Thresholds

EFFORT_SHARE = 0.2  # Recall@20%Effort: inspect changes until 20% of the churn is spent
RECALL_SHARE = 0.2  # Effort@20%Recall: the churn spent to find 20% of the failures
ECE_BINS = 10


@dataclass(frozen=True)
class Curve:
    """Cumulative effort share (x) and cumulative failure share (y), from (0, 0) to (1, 1)."""

    x: np.ndarray
    y: np.ndarray

    def area(self) -> float:
        return float(np.trapezoid(self.y, self.x))


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """AUC-ROC, or None when only one class is present."""
    return float(roc_auc_score(labels, scores)) if _both_classes(labels) else None


def pr_auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """Average precision (the step-wise area under the precision-recall curve)."""
    return float(average_precision_score(labels, scores)) if _both_classes(labels) else None


def _both_classes(labels: np.ndarray) -> bool:
    positives = int(np.sum(labels == 1))
    return 0 < positives < len(labels)


def effort_of(la: np.ndarray, ld: np.ndarray) -> np.ndarray:
    """Inspection effort: the changed lines (la + ld), at least one line per change."""
    return np.maximum(np.nan_to_num(la) + np.nan_to_num(ld), 1.0)


def effort_order(scores: np.ndarray, effort: np.ndarray) -> np.ndarray:
    """Inspection order: predicted risk per changed line, highest first.

    Ties are broken by the larger change first (the pessimistic order), so a constant score
    cannot win Recall@20%Effort by putting the smallest changes first.
    """
    density = scores / effort
    return np.lexsort((-effort, -density))


def effort_curve(labels: np.ndarray, effort: np.ndarray, order: np.ndarray) -> Curve:
    cumulative_effort = np.cumsum(effort[order]) / effort.sum()
    found = np.cumsum(labels[order] == 1) / max(int(np.sum(labels == 1)), 1)
    return Curve(np.concatenate([[0.0], cumulative_effort]), np.concatenate([[0.0], found]))


def recall_at_effort(curve: Curve, share: float = EFFORT_SHARE) -> float:
    """The share of failures among the changes inspected before the effort passes `share`."""
    inspected = curve.x <= share + 1e-12
    return float(curve.y[inspected][-1])


def effort_at_recall(curve: Curve, share: float = RECALL_SHARE) -> float:
    """The effort share spent when the inspected changes first hold `share` of the failures."""
    reached = np.nonzero(curve.y >= share - 1e-12)[0]
    return float(curve.x[reached[0]])


def optimal_order(labels: np.ndarray, effort: np.ndarray) -> np.ndarray:
    """Failures first, smallest first: the best any model could do."""
    return np.lexsort((effort, -(labels == 1).astype(int)))


def worst_order(labels: np.ndarray, effort: np.ndarray) -> np.ndarray:
    """Clean changes first, largest first, then failures largest first: the worst possible."""
    return np.lexsort((-effort, (labels == 1).astype(int)))


def popt(labels: np.ndarray, scores: np.ndarray, effort: np.ndarray) -> float | None:
    """Kamei's Popt: 1 - (optimal - model) / (optimal - worst), areas under effort curves."""
    if not _both_classes(labels):
        return None
    model = effort_curve(labels, effort, effort_order(scores, effort)).area()
    best = effort_curve(labels, effort, optimal_order(labels, effort)).area()
    worst = effort_curve(labels, effort, worst_order(labels, effort)).area()
    if best == worst:
        return None
    return 1.0 - (best - model) / (best - worst)


def expected_calibration_error(
    labels: np.ndarray, scores: np.ndarray, bins: int = ECE_BINS
) -> float:
    """Sum over equal-width score bins of (bin share) x |bin failure rate - bin mean score|."""
    index = np.minimum((scores * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        inside = index == b
        if inside.any():
            total += inside.mean() * abs(labels[inside].mean() - scores[inside].mean())
    return float(total)


def reliability(labels: np.ndarray, scores: np.ndarray, bins: int = ECE_BINS) -> list[dict]:
    """Per equal-width bin: rows, mean score, failure rate (the reliability diagram's points)."""
    index = np.minimum((scores * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        inside = index == b
        if inside.any():
            out.append(
                {
                    "bin": [b / bins, (b + 1) / bins],
                    "rows": int(inside.sum()),
                    "mean_score": float(scores[inside].mean()),
                    "failure_rate": float(labels[inside].mean()),
                }
            )
    return out


def at_threshold(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    """Flag every change scored at or above `threshold`: share flagged, recall, precision, F1."""
    flagged = scores >= threshold
    failures = labels == 1
    caught = int(np.sum(flagged & failures))
    recall = caught / failures.sum() if failures.any() else None
    precision = caught / flagged.sum() if flagged.any() else None
    f1 = (
        2 * precision * recall / (precision + recall)
        if recall is not None and precision is not None and precision + recall > 0
        else 0.0
    )
    return {
        "threshold": float(threshold),
        "flagged_share": float(flagged.mean()),
        "recall": recall,
        "precision": precision,
        "f1": float(f1),
    }


def pick_thresholds(
    scores: np.ndarray, hold_share: float = 0.10, low_share: float = 0.5
) -> Thresholds:
    """high: the lowest score that holds at most `hold_share` of the changes (so it catches the
    most failures that share allows); low: the `low_share` quantile, never above high."""
    ordered = np.sort(scores)
    values = np.unique(ordered)
    at_or_above = len(ordered) - np.searchsorted(ordered, values, side="left")
    candidates = values[at_or_above <= hold_share * len(ordered)]
    # when the top score alone is tied by more than the share, hold nothing seen here
    high = float(candidates[0]) if len(candidates) else min(float(np.nextafter(values[-1], 2)), 1.0)
    low = min(float(np.quantile(scores, low_share)), high)
    return Thresholds(low_below=low, high_at_or_above=high)


def all_metrics(
    labels: np.ndarray,
    scores: np.ndarray,
    la: np.ndarray,
    ld: np.ndarray,
    thresholds: Thresholds | None = None,
) -> dict[str, Any]:
    """Every figure `gate evaluate` reports, rounded for reading."""
    labels = np.asarray(labels).astype(int)
    scores = np.asarray(scores, dtype=np.float64)
    effort = effort_of(np.asarray(la, dtype=np.float64), np.asarray(ld, dtype=np.float64))
    curve = effort_curve(labels, effort, effort_order(scores, effort))
    has_failures = bool(labels.any())
    figures: dict[str, Any] = {
        "rows": len(labels),
        "failures": int(labels.sum()),
        "failure_rate": float(labels.mean()) if len(labels) else None,
        "mean_score": float(scores.mean()) if len(labels) else None,
        "auc_roc": roc_auc(labels, scores),
        "pr_auc": pr_auc(labels, scores),
        "recall_at_20_effort": recall_at_effort(curve) if has_failures else None,
        "effort_at_20_recall": effort_at_recall(curve) if has_failures else None,
        "popt": popt(labels, scores, effort),
        "brier": float(brier_score_loss(labels, scores, labels=[0, 1])),
        "ece": expected_calibration_error(labels, scores),
    }
    if thresholds is not None:
        held = at_threshold(labels, scores, thresholds.high_at_or_above)
        medium_up = at_threshold(labels, scores, thresholds.low_below)
        figures["held"] = held
        figures["medium_or_high"] = medium_up
        figures["held_share"] = held["flagged_share"]
        figures["failures_caught_share"] = held["recall"]
    return rounded(figures)


def rounded(value: Any, digits: int = 4) -> Any:
    if isinstance(value, dict):
        return {key: rounded(item, digits) for key, item in value.items()}
    if isinstance(value, list):
        return [rounded(item, digits) for item in value]
    if isinstance(value, float | np.floating):
        return round(float(value), digits)
    if isinstance(value, np.integer):
        return int(value)
    return value
