"""parse_policy as a whole: the example file, and no text ever makes it raise."""

from __future__ import annotations

from datetime import UTC

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate.policy.config import parse_policy
from gate.policy.freezes import active_freeze
from gate.policy.globs import matches_any
from gate.policy.problems import PolicyResult
from gate.policy.schema import Policy
from tests.policy.policy_text import BERLIN, EXAMPLE, utc

# ------------------------------------------------------------------------------- the example file


def test_the_example_file_is_valid_without_warnings():
    result = parse_policy(EXAMPLE.read_text())
    assert result.errors == [] and result.warnings == []
    policy = result.policy
    assert policy is not None
    assert policy.mode == "enforce" and policy.on_error == "fail-open"
    assert policy.services.root["payments"].tier == "critical"
    assert policy.services.root["web"].tier == "standard"
    assert policy.services.root["docs"].tier == "low"
    assert matches_any(policy.always_hold, ["db/migrations/0002_x.sql"])
    assert matches_any(policy.never_hold, ["docs/guide.md"])
    assert policy.freeze[0].timezone == "Europe/Berlin"
    assert policy.approvers.users and policy.approvers.teams
    assert policy.approvers.required_approvals == 1
    assert policy.rollback is not None and policy.rollback.prometheus is not None
    assert [sli.name for sli in policy.rollback.slis] == ["error ratio", "p90 latency"]
    assert policy.rollback.settings_for("staging").act is False
    # Friday 2025-01-10 19:00 in Berlin: the weekend freeze; Christmas Eve: the year-end freeze
    assert active_freeze(policy, utc(2025, 1, 10, 18)) == policy.freeze[0]
    assert active_freeze(policy, utc(2025, 12, 24, 12)) == policy.freeze[1]
    assert active_freeze(policy, utc(2025, 1, 8, 12)) is None


# ------------------------------------------------------------------------------------- properties


def assert_sane(result: PolicyResult, text: str) -> None:
    assert (result.policy is None) == bool(result.errors)
    lines = text.count("\n") + 2
    for problem in [*result.errors, *result.warnings]:
        assert problem.line is None or 1 <= problem.line <= lines
        assert str(problem)


YAMLISH = st.text(
    alphabet=st.sampled_from(list(" \n\t:-[]{}&*!|>'\"#@,?%<.~abdmoy01")), max_size=300
)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=300), YAMLISH))
def test_parse_policy_never_raises_on_any_text(text: str):
    assert_sane(parse_policy(text), text)


@st.composite
def mutated_example(draw: st.DrawFn) -> str:
    text = EXAMPLE.read_text()
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["delete", "insert", "replace", "duplicate_line"]))
        if action == "delete":
            text = text[:position] + text[position + draw(st.integers(1, 40)) :]
        elif action == "insert":
            text = (
                text[:position] + draw(st.one_of(YAMLISH, st.text(max_size=20))) + text[position:]
            )
        elif action == "replace":
            text = text[:position] + draw(st.characters()) + text[position + 1 :]
        else:
            lines = text.splitlines(keepends=True)
            index = draw(st.integers(0, len(lines) - 1))
            lines.insert(index, lines[index])
            text = "".join(lines)
    return text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_example())
def test_parse_policy_never_raises_on_a_mutated_example(text: str):
    assert_sane(parse_policy(text), text)


KEYS = [
    *Policy.model_fields,
    "use_model_thresholds",
    "pass_below",
    "hold_at_or_above",
    "payments",
    "paths",
    "tier",
    "owners",
    "from",
    "to",
    "days",
    "start",
    "end",
    "timezone",
    "reason",
    "users",
    "teams",
    "required_approvals",
]


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=10),
    st.dates(),
    st.datetimes(timezones=st.one_of(st.none(), st.just(UTC), st.just(BERLIN))),
    st.sampled_from(
        ["18:00", "fri-mon", "Europe/Berlin", "shadow", "docs/", "@alice", "a/b", "mon"]
    ),
)


VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS), children, max_size=5)
    ),
    max_leaves=12,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=10))
def test_parse_policy_never_raises_on_documents_with_the_right_keys(document: dict):
    text = yaml.safe_dump(document, allow_unicode=True)
    assert_sane(parse_policy(text), text)


def test_lone_surrogates_do_not_raise():
    assert_sane(parse_policy("mode: \ud800\n"), "")
