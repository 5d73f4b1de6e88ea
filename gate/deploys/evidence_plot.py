"""The incident's picture: each SLI before and after the deploy, with the verdict's numbers."""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from gate.deploys.judge.scenario import judged_as

MAX_PANELS = 6


def evidence_png(scenario: dict[str, Any], verdict: dict[str, Any]) -> bytes:
    """One panel per metric (regressed ones first): baseline grey, after the deploy red."""
    calls = {m["name"]: m for m in verdict.get("metrics", [])}
    order = sorted(
        scenario["metrics"], key=lambda m: calls.get(m["name"], {}).get("verdict") != "regressed"
    )[:MAX_PANELS]
    deployed_at = scenario["deployed_at"]
    figure, axes = plt.subplots(len(order), 1, figsize=(8, 2.6 * len(order)), squeeze=False)
    try:
        for axis, metric in zip(axes[:, 0], order, strict=True):
            call = calls.get(metric["name"], {})
            for side, colour in (("baseline", "#7f7f7f"), ("canary", "#d62728")):
                times, values = _series(metric, metric[side])
                minutes = [(t - deployed_at) / 60 for t in times]
                label = "before / stable" if side == "baseline" else "after the deploy"
                axis.plot(minutes, values, color=colour, marker=".", linewidth=1, label=label)
            axis.axvline(0, color="black", linestyle="--", linewidth=0.8, label="deploy")
            if verdict.get("verdict") == "regressed" and verdict.get("decided_at"):
                called = (verdict["decided_at"] - deployed_at) / 60
                axis.axvline(called, color="#d62728", linestyle=":", label="regression called")
            axis.set_title(f"{metric['name']}: {call.get('verdict', '?')}", loc="left", fontsize=10)
            axis.set_ylabel(_unit(metric))
            axis.grid(alpha=0.3)
            axis.legend(fontsize=8, loc="upper left")
        axes[-1, 0].set_xlabel("minutes from the deploy")
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=90)
        return buffer.getvalue()
    finally:
        plt.close(figure)


def _series(metric: dict[str, Any], side: dict[str, Any]) -> tuple[list[float], list[float]]:
    if metric["kind"] == "error_count":  # a count per step, plotted as it is
        points = side.get("errors", [])
        return [t for t, _ in points], [n for _, n in points]
    if judged_as(metric["kind"]) != "errors":
        points = side.get("values", [])
        return [t for t, _ in points], [v for _, v in points]
    errors = dict((t, n) for t, n in side.get("errors", []))
    times, ratios = [], []
    for t, n in side.get("requests", []):
        times.append(t)
        ratios.append(errors.get(t, 0.0) / n if n else 0.0)
    return times, ratios


def _unit(metric: dict[str, Any]) -> str:
    if metric["kind"] == "error_count":
        return "errors per step"
    return {"errors": "errors per request", "latency": "latency", "gauge": "value"}[
        judged_as(metric["kind"])
    ]
