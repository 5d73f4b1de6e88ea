"""`thresholds:`: the model's own or an explicit pair, each mistake on its line."""

from __future__ import annotations

import pytest

from gate.model.artifact import Thresholds
from gate.policy.thresholds import ThresholdsPolicy
from tests.policy.policy_text import the_error, valid


def test_thresholds_default_to_the_models():
    thresholds = valid("thresholds:\n  use_model_thresholds: true\n").thresholds
    assert thresholds.use_model_thresholds is True
    model = Thresholds(0.2, 0.7)
    assert thresholds.resolve(model) is model


def test_explicit_thresholds_imply_not_using_the_models():
    thresholds = valid("thresholds:\n  pass_below: 0.25\n  hold_at_or_above: 0.6\n").thresholds
    assert thresholds.use_model_thresholds is False
    assert thresholds.resolve(Thresholds(0.2, 0.7)) == Thresholds(0.25, 0.6)
    both = valid(
        "thresholds:\n  use_model_thresholds: false\n  pass_below: 0\n  hold_at_or_above: 1\n"
    )
    assert both.thresholds.resolve(Thresholds(0.2, 0.7)) == Thresholds(0.0, 1.0)


def test_explicit_thresholds_come_in_pairs():
    assert the_error("mode: shadow\nthresholds:\n  pass_below: 0.3\n") == (
        2,
        "thresholds",
        "hold_at_or_above is missing: explicit thresholds need both pass_below and "
        "hold_at_or_above",
    )
    assert the_error("thresholds: {hold_at_or_above: 0.8}\n")[2].startswith("pass_below is missing")
    assert valid("thresholds:\n  pass_below: 1e-1\n  hold_at_or_above: 0.5\n").thresholds == (
        ThresholdsPolicy(pass_below=0.1, hold_at_or_above=0.5)
    )


def test_both_threshold_styles_at_once_is_an_error_on_the_explicit_value():
    assert the_error("thresholds:\n  use_model_thresholds: true\n  pass_below: 0.3\n") == (
        3,
        "thresholds.pass_below",
        "conflicts with use_model_thresholds: true; "
        "drop use_model_thresholds or this explicit threshold",
    )


def test_by_default_the_thresholds_are_shares_of_the_repositorys_changes():
    for text in ("mode: shadow\n", "thresholds:\n  use_model_thresholds: false\n"):
        thresholds = valid(text).thresholds
        assert thresholds.source == "shares"
        assert (thresholds.hold_share, thresholds.review_share) == (0.05, 0.15)


def test_shares_are_validated_on_their_lines():
    own = valid("thresholds:\n  hold_share: 0.02\n  review_share: 0.08\n").thresholds
    assert (own.source, own.hold_share, own.review_share) == ("shares", 0.02, 0.08)
    assert the_error("thresholds:\n  hold_share: 1.5\n") == (
        2,
        "thresholds.hold_share",
        "Input should be less than or equal to 1",
    )
    assert the_error("thresholds:\n  hold_share: 0.6\n  review_share: 0.5\n") == (
        3,
        "thresholds.review_share",
        "hold_share + review_share is 1.1, over 1",
    )
    assert the_error("thresholds:\n  use_model_thresholds: true\n  hold_share: 0.1\n") == (
        3,
        "thresholds.hold_share",
        "conflicts with use_model_thresholds: true; drop use_model_thresholds or this share",
    )
    text = "thresholds:\n  pass_below: 0.2\n  hold_at_or_above: 0.6\n  review_share: 0.1\n"
    assert the_error(text) == (
        4,
        "thresholds.review_share",
        "conflicts with pass_below / hold_at_or_above: explicit thresholds replace the shares; "
        "drop one or the other",
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1.5", "Input should be less than or equal to 1"),
        ("-0.1", "Input should be greater than or equal to 0"),
        ("high", "expected a number, got 'high'"),
        ("yes", "expected a number, got the boolean true"),
        ("[0.1]", "expected a number, got a list"),
        (".nan", "Input should be less than or equal to 1"),
    ],
)
def test_a_bad_threshold_value(value: str, message: str):
    assert the_error(f"thresholds:\n  pass_below: {value}\n") == (
        2,
        "thresholds.pass_below",
        message,
    )


def test_hold_below_pass_is_reported_on_the_hold_line():
    text = "thresholds:\n  hold_at_or_above: 0.3\n  pass_below: 0.5\n"
    assert the_error(text) == (2, "thresholds.hold_at_or_above", "0.3 is below pass_below (0.5)")


def test_thresholds_must_be_a_mapping():
    assert the_error("thresholds: 0.5\n") == (
        1,
        "thresholds",
        "expected a mapping (key: value), got 0.5",
    )
