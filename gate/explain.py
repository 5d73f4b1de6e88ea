"""Turn the model's per-feature contributions into reasons a developer can read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from gate.features import FeatureVector
from gate.model import Score

# contributions smaller than this (log-odds) are noise, not reasons
MIN_CONTRIBUTION = 0.02
LARGE_CHANGE_LINES = 400


def _plural(count: float, one: str, many: str) -> str:
    return f"{count:,.0f} {one if count == 1 else many}"


_WORDS: dict[str, Callable[[float], str]] = {
    "la": lambda v: _plural(v, "line added", "lines added"),
    "ld": lambda v: _plural(v, "line deleted", "lines deleted"),
    "nf": lambda v: _plural(v, "file changed", "files changed"),
    "nd": lambda v: f"spans {_plural(v, 'directory', 'directories')}",
    "ns": lambda v: f"touches {_plural(v, 'top-level area', 'top-level areas')} of the repository",
    "entropy": lambda v: f"change spread across files (entropy {v:.1f} bits)",
    "hunks": lambda v: _plural(v, "separate hunk", "separate hunks"),
}


@dataclass(frozen=True)
class Reason:
    feature: str
    value: float | None
    contribution: float
    text: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def reasons(vector: FeatureVector, score: Score, limit: int = 3) -> list[Reason]:
    """The features that raised the risk most, largest first, in plain words."""
    ranked = sorted(score.contributions.items(), key=lambda item: item[1], reverse=True)
    found = []
    for feature, contribution in ranked:
        if contribution < MIN_CONTRIBUTION or len(found) == limit:
            break
        value = vector.values.get(feature)
        text = _WORDS[feature](value) if value is not None else f"{feature} unknown"
        found.append(Reason(feature, value, round(contribution, 4), text))
    return found


def suggestions(vector: FeatureVector) -> list[str]:
    """What the author could do to lower the risk."""
    advice = []
    lines = (vector.values.get("la") or 0) + (vector.values.get("ld") or 0)
    if lines > LARGE_CHANGE_LINES:
        advice.append(
            f"Split it: {lines:,.0f} changed lines; changes under {LARGE_CHANGE_LINES} lines "
            "are reviewed more thoroughly and fail less often."
        )
    if (vector.values.get("ns") or 0) > 2:
        advice.append("Separate the changes to each top-level area into their own pull requests.")
    return advice
