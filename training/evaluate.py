"""Evaluate a model artifact on a labelled table: figures, report.md and plots."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from gate.model.artifact import RiskModel, load_model
from training.metrics import (
    all_metrics,
    effort_curve,
    effort_of,
    effort_order,
    optimal_order,
    reliability,
    rounded,
)
from training.train import (
    LABEL,
    TIME,
    apply_calibration,
    labelled_rows,
    matrix,
    numeric,
    probability,
)

IMPORTANCE_ROWS = 20_000  # mean |SHAP| over at most this many rows (evenly spaced)


@dataclass
class Scored:
    model: RiskModel
    rows: pd.DataFrame  # labelled rows, oldest first
    scores: np.ndarray  # calibrated, as the service returns them
    newer: np.ndarray | None = None  # rows newer than the model's own data, when known


def score_rows(model: RiskModel, table: pd.DataFrame) -> Scored:
    rows = labelled_rows(table)
    features = model.artifact.features
    raw = probability(model.booster, rows, features)
    calibration = model.artifact.calibration
    scores = apply_calibration(raw, calibration) if calibration else raw
    return Scored(model, rows, scores)


def evaluate_scored(scored: Scored) -> dict[str, Any]:
    """All figures on every labelled row, and on the rows newer than the model's own data."""
    artifact = scored.model.artifact
    figures: dict[str, Any] = {
        "model_version": artifact.model_version,
        "thresholds": {
            "low_below": artifact.thresholds.low_below,
            "high_at_or_above": artifact.thresholds.high_at_or_above,
        },
        "all": _figures(scored, np.ones(len(scored.rows), dtype=bool)),
    }
    newest_seen = seen_until(artifact.training)
    if newest_seen is not None:
        newer = (scored.rows[TIME] > newest_seen).to_numpy()
        figures["rows_in_model_data"] = int((~newer).sum())
        if newer.any():
            figures["out_of_time"] = _figures(scored, newer)
            scored.newer = newer
    figures["importance"] = importance(scored)
    return rounded(figures)


def _figures(scored: Scored, mask: np.ndarray) -> dict[str, Any]:
    rows = scored.rows[mask]
    return all_metrics(
        rows[LABEL].to_numpy(),
        scored.scores[mask],
        _numeric(rows, "la"),
        _numeric(rows, "ld"),
        scored.model.artifact.thresholds,
    )


def _numeric(rows: pd.DataFrame, name: str) -> np.ndarray:
    if name not in rows:
        return np.zeros(len(rows))
    return numeric(rows[name], np.float64)


def seen_until(training: dict[str, Any]) -> int | None:
    """The newest commit time the model was fitted, calibrated or thresholded on."""
    periods = training.get("periods") or {}
    validation = periods.get("validation") or {}
    if not validation.get("to"):
        return None
    return int(datetime.fromisoformat(validation["to"]).timestamp())


def importance(scored: Scored) -> dict[str, float]:
    """Mean |SHAP value| (XGBoost pred_contribs, log-odds) per feature, largest first."""
    features = scored.model.artifact.features
    rows = scored.rows
    if len(rows) > IMPORTANCE_ROWS:
        rows = rows.iloc[np.linspace(0, len(rows) - 1, IMPORTANCE_ROWS).astype(int)]
    contributions = scored.model.booster.predict(
        matrix(rows, features, labelled=False), pred_contribs=True
    )
    means = np.abs(contributions[:, :-1]).mean(axis=0)
    order = np.argsort(-means, kind="stable")
    return {features[i]: float(means[i]) for i in order}


def evaluate(model_dir: Path, table: pd.DataFrame) -> tuple[dict[str, Any], Scored]:
    scored = score_rows(load_model(model_dir), table)
    return evaluate_scored(scored), scored


def write_report(figures: dict[str, Any], scored: Scored, out_dir: Path, source: str) -> Path:
    """report.md with the figures, next to roc.png, calibration.png, effort.png, importance.png."""
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = Plots(scored, figures, out_dir)
    plots.roc()
    plots.calibration()
    plots.effort()
    plots.importance()
    report = out_dir / "report.md"
    report.write_text(markdown(figures, source))
    return report


class Plots:
    def __init__(self, scored: Scored, figures: dict[str, Any], out_dir: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        self.plt = plt
        # the plots show the changes the model never saw, when there are such changes
        self.part = "out_of_time" if scored.newer is not None else "all"
        mask = scored.newer if scored.newer is not None else np.ones(len(scored.rows), bool)
        self.labels = scored.rows[LABEL].to_numpy().astype(int)[mask]
        self.scores = scored.scores[mask]
        self.rows = scored.rows[mask]
        self.figures = figures
        self.shown = figures[self.part]
        self.out_dir = out_dir

    def _save(self, figure: Any, name: str) -> None:
        if self.part == "out_of_time":
            figure.suptitle("changes newer than the model's data", fontsize=9)
        figure.tight_layout()
        figure.savefig(self.out_dir / name, dpi=110)
        self.plt.close(figure)

    def roc(self) -> None:
        figure, axes = self.plt.subplots(figsize=(5, 5))
        if 0 < self.labels.sum() < len(self.labels):
            fpr, tpr, _ = roc_curve(self.labels, self.scores)
            axes.plot(fpr, tpr, label=f"model (AUC {self.shown['auc_roc']:.3f})")
            held = self.shown["held"]
            share = float(np.mean(self.scores[self.labels == 0] >= held["threshold"]))
            axes.scatter([share], [held["recall"] or 0.0], color="red", zorder=3, label="high")
        axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
        axes.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
        axes.legend(loc="lower right")
        self._save(figure, "roc.png")

    def calibration(self) -> None:
        figure, axes = self.plt.subplots(figsize=(5, 5))
        points = reliability(self.labels, self.scores)
        axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
        axes.plot(
            [p["mean_score"] for p in points],
            [p["failure_rate"] for p in points],
            marker="o",
            label=f"model (ECE {self.shown['ece']:.3f})",
        )
        axes.set(xlabel="mean score in bin", ylabel="failure rate in bin", title="Reliability")
        axes.legend(loc="upper left")
        self._save(figure, "calibration.png")

    def effort(self) -> None:
        figure, axes = self.plt.subplots(figsize=(5, 5))
        effort = effort_of(_numeric(self.rows, "la"), _numeric(self.rows, "ld"))
        if self.labels.any():
            model = effort_curve(self.labels, effort, effort_order(self.scores, effort))
            best = effort_curve(self.labels, effort, optimal_order(self.labels, effort))
            axes.plot(best.x, best.y, color="green", label="optimal")
            axes.plot(model.x, model.y, label=f"model (Popt {self.shown['popt']})")
        axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
        axes.axvline(0.2, color="grey", linewidth=0.5)
        axes.set(
            xlabel="share of changed lines inspected",
            ylabel="share of failures found",
            title="Effort (ranked by risk per changed line)",
        )
        axes.legend(loc="lower right")
        self._save(figure, "effort.png")

    def importance(self) -> None:
        items = list(self.figures["importance"].items())[:20][::-1]
        figure, axes = self.plt.subplots(figsize=(6, max(2.5, 0.3 * len(items) + 1)))
        axes.barh([name for name, _ in items], [value for _, value in items])
        axes.set(xlabel="mean |SHAP| (log-odds)", title="Feature importance")
        self._save(figure, "importance.png")


_ROWS = [
    ("rows", "changes"),
    ("failures", "failing changes"),
    ("failure_rate", "failure rate"),
    ("auc_roc", "AUC-ROC"),
    ("pr_auc", "PR-AUC (average precision)"),
    ("recall_at_20_effort", "Recall@20%Effort"),
    ("effort_at_20_recall", "Effort@20%Recall (lower is better)"),
    ("popt", "Popt"),
    ("brier", "Brier score (lower is better)"),
    ("ece", "expected calibration error (10 bins)"),
    ("held_share", "share held (score >= high)"),
    ("failures_caught_share", "share of failures held"),
]


def markdown(figures: dict[str, Any], source: str) -> str:
    parts = [key for key in ("all", "out_of_time") if key in figures]
    thresholds = figures["thresholds"]
    out = [
        f"# Evaluation of `{figures['model_version']}`",
        "",
        f"Data: `{source}`. Thresholds: low below {thresholds['low_below']:.4f}, "
        f"high at or above {thresholds['high_at_or_above']:.4f}. Effort-aware figures rank "
        "changes by predicted risk per changed line (la + ld).",
        "",
    ]
    if figures.get("rows_in_model_data"):
        out += [
            f"**{figures['rows_in_model_data']} of these changes are from the period the model "
            "was trained, calibrated or thresholded on**: figures over all rows are optimistic; "
            "the `out of time` column has only the newer changes.",
            "",
        ]
    out += ["| figure | " + " | ".join(p.replace("_", " ") for p in parts) + " |"]
    out += ["|---|" + "---:|" * len(parts)]
    for key, words in _ROWS:
        out.append(f"| {words} | " + " | ".join(_cell(figures[p].get(key)) for p in parts) + " |")
    for part in parts:
        held, medium = figures[part]["held"], figures[part]["medium_or_high"]
        out += [
            "",
            f"At the thresholds ({part.replace('_', ' ')}): high flags "
            f"{_cell(held['flagged_share'])} "
            f"of changes (recall {_cell(held['recall'])}, precision {_cell(held['precision'])}, "
            f"F1 {_cell(held['f1'])}); medium or high flags {_cell(medium['flagged_share'])} "
            f"(recall {_cell(medium['recall'])}, F1 {_cell(medium['f1'])}).",
        ]
    shown = "the out-of-time changes" if "out_of_time" in figures else "all changes"
    out += ["", "## Plots", "", f"Of {shown}; importance over all changes.", ""]
    out += [
        "![ROC](roc.png) ![Reliability](calibration.png)",
        "",
        "![Effort](effort.png) ![Feature importance](importance.png)",
        "",
        "## Feature importance (mean |SHAP|, log-odds)",
        "",
        "| feature | mean abs SHAP |",
        "|---|---:|",
    ]
    out += [f"| `{name}` | {value:.4f} |" for name, value in figures["importance"].items()]
    return "\n".join(out) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
