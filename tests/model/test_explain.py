"""Reasons in plain words that see what the change is."""

from __future__ import annotations

from gate.features import FeatureVector
from gate.model.artifact import Score
from gate.model.explain import PROTECTIVE, ExplainContext, reasons


def score(contributions: dict[str, float]) -> Score:
    return Score(0.7, "high", contributions, -1.0)


def test_a_protective_value_is_never_listed_as_raising_risk():
    vector = FeatureVector({"exp": 6018.0, "patch_coverage": 0.95, "la": 40.0})
    found = reasons(vector, score({"exp": 0.9, "patch_coverage": 0.5, "la": 0.1}))
    assert [r.feature for r in found] == ["la"]
    assert {"exp", "rexp", "sexp", "patch_coverage"} <= PROTECTIVE


def test_a_change_without_source_code_is_not_told_it_fixes_a_bug():
    vector = FeatureVector({"fix": 1.0, "la": 2.0})
    context = ExplainContext(churn=2, source_churn=0)
    found = reasons(vector, score({"fix": 0.8, "la": 0.1}), context=context)
    assert [r.feature for r in found] == ["la"]
    # the same contribution on source code is a reason
    on_source = ExplainContext(churn=2, source_churn=2)
    with_source = reasons(vector, score({"fix": 0.8}), context=on_source)
    assert [r.text for r in with_source] == ["fixes a bug"]


def test_size_counted_mostly_outside_source_code_says_so():
    vector = FeatureVector({"la": 1112.0})
    context = ExplainContext(churn=1112, source_churn=12)
    (reason,) = reasons(vector, score({"la": 0.6}), context=context)
    assert reason.text == "1,112 lines added, mostly outside source code (12 source lines changed)"
