"""The top-level keys: defaults, mode, on_error, services, hold expiry, rollback, docs."""

from __future__ import annotations

import pytest

from gate.features.services import ServicesConfig
from gate.policy.schema import DEFAULT_POLICY, Policy
from tests.policy.policy_text import DOCS, EXAMPLE, the_error, valid, warnings

# ------------------------------------------------------------------------------------- defaults


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "---\n...\n", "~\n"])
def test_an_empty_file_is_the_default_policy(text: str):
    assert valid(text) == DEFAULT_POLICY


def test_the_default_policy():
    policy = DEFAULT_POLICY
    assert policy.mode == "enforce"
    assert policy.thresholds.source == "shares"
    assert (policy.thresholds.hold_share, policy.thresholds.review_share) == (0.05, 0.15)
    assert policy.services == ServicesConfig({})
    assert policy.always_hold == policy.never_hold == ()
    assert policy.freeze == ()
    assert policy.approvers.users == policy.approvers.teams == ()
    assert policy.approvers.required_approvals == 1
    assert policy.on_error == "fail-open"
    assert policy.hold_expiry_hours == 24
    assert policy.rollback is None


@pytest.mark.parametrize("key", ["thresholds", "services", "freeze", "approvers", "always_hold"])
def test_a_key_with_nothing_under_it_means_its_default(key: str):
    assert valid(f"{key}:\n") == DEFAULT_POLICY


# ---------------------------------------------------------------------------------- mode, on_error


@pytest.mark.parametrize("mode", ["enforce", "shadow"])
def test_mode(mode: str):
    assert valid(f"mode: {mode}\n").mode == mode


def test_a_bad_mode_is_reported_on_its_value_line_with_a_suggestion():
    assert the_error("on_error: fail-open\nmode:\n  enforc\n") == (
        3,
        "mode",
        "expected 'enforce' or 'shadow', got 'enforc' (did you mean 'enforce'?)",
    )
    assert the_error("mode: true\n") == (
        1,
        "mode",
        "expected 'enforce' or 'shadow', got the boolean true",
    )


@pytest.mark.parametrize("value", ["fail-open", "fail-closed"])
def test_on_error(value: str):
    assert valid(f"on_error: {value}\n").on_error == value


def test_a_bad_on_error():
    assert the_error("mode: shadow\non_error: fail_closed\n") == (
        2,
        "on_error",
        "expected 'fail-open' or 'fail-closed', got 'fail_closed' (did you mean 'fail-closed'?)",
    )


# -------------------------------------------------------------------------------------- services


SERVICES = """\
services:
  payments:
    paths: ["services/payments/", "libs/money/**"]
    tier: critical
    owners: ["@acme/payments", alice]
  docs:
    paths: [docs/]
    tier: low
"""


def test_services_are_the_services_config():
    services = valid(SERVICES).services
    assert isinstance(services, ServicesConfig)
    assert list(services.root) == ["payments", "docs"]
    assert services.root["payments"].owners == ["@acme/payments", "@alice"]
    assert services.root["docs"].tier == "low"


def test_service_errors_have_their_lines():
    assert the_error(SERVICES.replace("tier: low", "tier: lowest")) == (
        8,
        "services.docs.tier",
        "expected 'critical', 'standard' or 'low', got 'lowest' (did you mean 'low'?)",
    )
    assert the_error(SERVICES.replace("[docs/]", '[docs/, "[a-z]/"]')) == (
        7,
        "services.docs.paths",
        "'[a-z]/': character ranges ([ ]) are not supported (CODEOWNERS syntax)",
    )
    # a missing key: the line of the mapping that lacks it
    assert the_error(SERVICES.replace("    paths: [docs/]\n", "")) == (
        6,
        "services.docs.paths",
        "Field required",
    )
    assert the_error("services: [payments]\n") == (
        1,
        "services",
        "expected a mapping (key: value), got a list",
    )


def test_unknown_keys_inside_a_service_are_warnings():
    policy = valid(SERVICES.replace("tier: low", "tier: low\n    teir: critical"))
    assert policy.services.root["docs"].tier == "low"
    assert (9, "services.docs", "unknown key 'teir' (did you mean 'tier'?)") in warnings(
        SERVICES.replace("tier: low", "tier: low\n    teir: critical")
    )


# ------------------------------------------------------------------------ hold expiry, rollback


@pytest.mark.parametrize(("value", "hours"), [("24", 24.0), ("0.5", 0.5), ("72", 72.0)])
def test_hold_expiry_hours(value: str, hours: float):
    assert valid(f"hold_expiry_hours: {value}\n").hold_expiry_hours == hours


@pytest.mark.parametrize("value", ["0", "-1", "soon", "true", ".inf", "[]"])
def test_a_bad_hold_expiry(value: str):
    line, field, _ = the_error(f"mode: enforce\nhold_expiry_hours: {value}\n")
    assert (line, field) == (2, "hold_expiry_hours")


def test_rollback_is_validated_and_empty_means_no_watch():
    rollback = valid("rollback:\n  prometheus: {url: 'http://p:9090/'}\n").rollback
    assert rollback is not None and rollback.prometheus is not None
    assert rollback.prometheus.url == "http://p:9090" and rollback.slis == ()
    assert valid("rollback:\n").rollback is None
    assert valid("rollback: {}\n").rollback is not None
    assert the_error("rollback:\n  prometheus: {url: ftp://p}\n")[:2] == (
        2,
        "rollback.prometheus.url",
    )


def test_rollback_must_be_a_mapping():
    assert the_error("mode: shadow\nrollback: [a, b]\n") == (
        2,
        "rollback",
        "expected a mapping (key: value), got a list",
    )


def test_the_docs_show_the_example_and_every_key():
    docs = DOCS.read_text()
    assert f"```yaml\n{EXAMPLE.read_text()}```" in docs
    for key in Policy.model_fields:
        assert f"## `{key}`" in docs or f"`{key}` and" in docs or f"and `{key}`" in docs, key
