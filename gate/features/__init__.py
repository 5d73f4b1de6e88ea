"""Risk features of a change: one versioned vector, shared by the service and training."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from gate.features.catalog import CATALOG, FEATURE_SCHEMA_VERSION

__all__ = ["CATALOG", "FEATURE_SCHEMA_VERSION", "FeatureVector"]


@dataclass
class FeatureVector:
    """Feature values (None = missing) and notes on anything that could not be measured."""

    values: dict[str, float | None]
    notes: list[str] = field(default_factory=list)
    schema_version: str = FEATURE_SCHEMA_VERSION

    def __post_init__(self) -> None:
        unknown = set(self.values) - set(CATALOG)
        if unknown:
            raise ValueError(f"unknown features: {sorted(unknown)}")

    def get(self, name: str) -> float:
        value = self.values.get(name)
        return math.nan if value is None else float(value)

    def merge(
        self, values: dict[str, float | None], notes: list[str] | None = None
    ) -> FeatureVector:
        return FeatureVector(
            {**self.values, **values}, [*self.notes, *(notes or [])], self.schema_version
        )
