"""Risk features of a change: one versioned vector, shared by the service and training."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

FEATURE_SCHEMA_VERSION = "1"

# name -> what it measures, in words a developer reads on the check
FEATURES: dict[str, str] = {
    "la": "lines added",
    "ld": "lines deleted",
    "nf": "files changed",
    "nd": "directories changed",
    "ns": "subsystems (top-level directories) changed",
    "entropy": "spread of the change over files (bits)",
    "hunks": "hunks changed",
}


@dataclass
class FeatureVector:
    """Feature values (None = missing) and notes on anything that could not be measured."""

    values: dict[str, float | None]
    notes: list[str] = field(default_factory=list)
    schema_version: str = FEATURE_SCHEMA_VERSION

    def __post_init__(self) -> None:
        unknown = set(self.values) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown features: {sorted(unknown)}")

    def get(self, name: str) -> float:
        value = self.values.get(name)
        return math.nan if value is None else float(value)
