"""The base of every risk-gate.yml section model: unknown keys refused, values frozen."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Unknown keys are errors here (pruning turns them into warnings first); values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
