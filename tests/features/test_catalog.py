"""The feature catalogue, its documentation, and the vectors built from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.features import CATALOG, FeatureVector
from gate.features.catalog import markdown

DOCS = Path(__file__).resolve().parents[2] / "docs" / "features.md"


def test_docs_features_md_is_generated_from_the_catalogue():
    assert DOCS.read_text() == markdown(), "run: python -m gate.features > docs/features.md"


def test_every_feature_is_documented_with_a_missing_value():
    for spec in CATALOG.values():
        assert spec.definition and spec.source and spec.unit and spec.missing
        assert f"| `{spec.name}` |" in DOCS.read_text()


def test_a_vector_refuses_names_outside_the_catalogue():
    with pytest.raises(ValueError, match="unknown features"):
        FeatureVector(values={"la": 1.0, "lines_of_love": 3.0})
