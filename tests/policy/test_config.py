"""risk-gate.yml as a policy: every key, exact lines, freeze windows, broken YAML, the CLI."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate.features.services import ServicesConfig
from gate.model.artifact import Thresholds
from gate.policy.check import check_file
from gate.policy.config import parse_policy
from gate.policy.document import MAX_NODES, MAX_POLICY_BYTES
from gate.policy.freezes import FreezeWindow, active_freeze
from gate.policy.globs import matches_any
from gate.policy.problems import PolicyProblem, PolicyResult
from gate.policy.schema import DEFAULT_POLICY, Policy
from gate.policy.summary import policy_summary
from gate.policy.thresholds import ThresholdsPolicy

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "data" / "risk-gate.example.yml"
DOCS = ROOT / "docs" / "configuration.md"
APPROVERS = "approvers:\n  users: [alice]\n"
BERLIN = ZoneInfo("Europe/Berlin")


def valid(text: str) -> Policy:
    result = parse_policy(text)
    assert result.errors == [], [str(problem) for problem in result.errors]
    assert result.policy is not None
    return result.policy


def errors(text: str) -> list[tuple[int | None, str, str]]:
    result = parse_policy(text)
    assert result.policy is None
    return [(problem.line, problem.field, problem.message) for problem in result.errors]


def the_error(text: str) -> tuple[int | None, str, str]:
    found = errors(text)
    assert len(found) == 1, found
    return found[0]


def warnings(text: str) -> list[tuple[int | None, str, str]]:
    return [
        (problem.line, problem.field, problem.message) for problem in parse_policy(text).warnings
    ]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ------------------------------------------------------------------------------------- defaults


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "---\n...\n", "~\n"])
def test_an_empty_file_is_the_default_policy(text: str):
    assert valid(text) == DEFAULT_POLICY


def test_the_default_policy():
    policy = DEFAULT_POLICY
    assert policy.mode == "enforce"
    assert policy.thresholds.use_model_thresholds is True
    assert policy.services == ServicesConfig({})
    assert policy.always_hold == policy.never_hold == ()
    assert policy.freeze == ()
    assert policy.approvers.users == policy.approvers.teams == ()
    assert policy.approvers.required_approvals == 1
    assert policy.on_error == "fail-open"
    assert policy.hold_expiry_hours == 24
    assert policy.rollback is None


def test_no_approvers_is_a_warning_in_enforce_mode_only():
    assert warnings("") == [
        (
            None,
            "approvers",
            "no approvers configured: only the repository's admins and maintainers can release "
            "a held change",
        )
    ]
    assert warnings("approvers:\n  users: []\n")[0][0] == 1
    assert warnings("mode: shadow\n") == []
    assert warnings(APPROVERS) == []


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


# ------------------------------------------------------------------------------------ thresholds


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


def test_not_using_the_models_thresholds_needs_one():
    assert the_error("mode: shadow\nthresholds:\n  use_model_thresholds: false\n") == (
        2,
        "thresholds",
        "use_model_thresholds is false but pass_below and hold_at_or_above are not set",
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


# ------------------------------------------------------------------------------ hold path globs


def test_hold_globs():
    policy = valid('always_hold: ["**/migrations/**", db/schema.sql]\nnever_hold:\n  - docs/\n')
    assert policy.always_hold == ("**/migrations/**", "db/schema.sql")
    assert policy.never_hold == ("docs/",)


@pytest.mark.parametrize(
    ("glob", "message"),
    [
        ('"!docs/"', "'!docs/': negation (!) is not supported (CODEOWNERS syntax)"),
        ('"a/***"', "'a/***': three consecutive asterisks are not a valid pattern"),
        ('""', "'': empty pattern"),
    ],
)
def test_a_bad_glob_is_reported_on_its_line(glob: str, message: str):
    assert the_error(f"never_hold:\n  - docs/\n  - {glob}\n") == (3, "never_hold[1]", message)


def test_hold_globs_must_be_a_list_of_text():
    assert the_error("always_hold: migrations/\n") == (
        1,
        "always_hold",
        "expected a list, got 'migrations/'",
    )
    assert the_error("always_hold:\n  - 12\n") == (
        2,
        "always_hold[0]",
        "expected text, got 12",
    )


def test_matches_any_returns_the_matching_paths_in_order():
    paths = ["app/db/migrations/0001.py", "docs/a.md", "README.md", "src/x.py"]
    assert matches_any(["**/migrations/**"], paths) == ["app/db/migrations/0001.py"]
    assert matches_any(["docs/", "*.md"], paths) == ["docs/a.md", "README.md"]
    assert matches_any([], paths) == []
    assert matches_any(["src/"], []) == []


# ----------------------------------------------------------------------------------- approvers


def test_approvers_are_normalised():
    approvers = valid(
        'approvers:\n  users: ["@Alice", bob, alice]\n  teams: ["@Acme/Release", acme/sre]\n'
        "  required_approvals: 2\n"
    ).approvers
    assert approvers.users == ("alice", "bob")
    assert approvers.teams == ("acme/release", "acme/sre")
    assert approvers.required_approvals == 2


def test_required_approvals_with_no_approvers_is_an_error_on_its_line():
    message = "no approvers configured: nobody could release a held change"
    assert the_error("approvers:\n  required_approvals: 1\n") == (
        2,
        "approvers.required_approvals",
        message,
    )
    assert the_error("approvers:\n  users: []\n  teams: []\n  required_approvals: 2\n") == (
        4,
        "approvers.required_approvals",
        message,
    )


def test_more_approvals_than_listed_users_is_an_error_unless_a_team_is_listed():
    assert the_error("approvers:\n  users: [alice]\n  required_approvals: 2\n") == (
        3,
        "approvers.required_approvals",
        "2 approvals required but only 1 user listed",
    )
    valid("approvers:\n  users: [alice]\n  teams: [acme/sre]\n  required_approvals: 2\n")


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("users: [acme/sre]", 2, "approvers.users[0]", "'acme/sre' is a team: list it under teams"),
        ("teams: [alice]", 2, "approvers.teams[0]", "'alice' is not a team: write org/team-slug"),
        ('users: ["al ice"]', 2, "approvers.users[0]", "'al ice' is not a GitHub login"),
        ("users:\n    - bob\n    - 7", 4, "approvers.users[1]", "expected text, got 7"),
        ("users: [alice]\n  required_approvals: 0", 3, "approvers.required_approvals", ""),
        ("users: [alice]\n  required_approvals: true", 3, "approvers.required_approvals", ""),
        ("users: [alice]\n  required_approvals: 1.5", 3, "approvers.required_approvals", ""),
        ("users: alice", 2, "approvers.users", "expected a list, got 'alice'"),
    ],
)
def test_bad_approvers(text: str, line: int, field: str, message: str):
    found_line, found_field, found_message = the_error(f"approvers:\n  {text}\n")
    assert (found_line, found_field) == (line, field)
    assert message in found_message


def test_an_approver_starting_with_an_unquoted_at_gets_a_hint():
    line, _, message = the_error("approvers:\n  users:\n    - @alice\n")
    assert line == 3
    assert 'quote values that start with @, e.g. "@alice"' in message


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


# ---------------------------------------------------------------------------------- unknown keys


def test_unknown_keys_are_warnings_with_lines_and_suggestions():
    text = (
        f"{APPROVERS}"  # lines 1-2
        "mode: shadow\n"
        "thresholdz:\n"
        "  pass_below: 0.3\n"
        "freeze:\n"
        "  - days: [sat]\n"
        "    reasn: weekend\n"
        "wibble: 1\n"
    )
    result = parse_policy(text)
    assert result.ok
    assert [str(problem) for problem in result.warnings] == [
        ".github/risk-gate.yml line 4: unknown key 'thresholdz' (did you mean 'thresholds'?)",
        ".github/risk-gate.yml line 8, freeze[0]: unknown key 'reasn' (did you mean 'reason'?)",
        ".github/risk-gate.yml line 9: unknown key 'wibble'",
    ]
    assert result.policy is not None
    assert result.policy.thresholds.use_model_thresholds is True


def test_unknown_keys_in_nested_sections():
    text = "thresholds:\n  pass_bellow: 0.2\napprovers:\n  user: [alice]\n  teams: [a/b]\n"
    assert warnings(text) == [
        (2, "thresholds", "unknown key 'pass_bellow' (did you mean 'pass_below'?)"),
        (4, "approvers", "unknown key 'user' (did you mean 'users'?)"),
    ]


def test_unknown_keys_in_rollback_are_warnings_too():
    assert warnings(f"{APPROVERS}rollback:\n  watch_minute: 1\n") == [
        (4, "rollback", "unknown key 'watch_minute' (did you mean 'watch_minutes'?)")
    ]


# ---------------------------------------------------------------------------------- freeze windows


def freeze(window: str, timezone: str = "UTC") -> FreezeWindow:
    policy = valid(f"freeze:\n  - timezone: {timezone}\n{window}")
    return policy.freeze[0]


def test_a_date_range_includes_both_ends_whole_days():
    window = freeze("    from: 2025-12-24\n    to: 2025-12-26\n    reason: holidays\n")
    assert (window.from_, window.to, window.reason) == (
        date(2025, 12, 24),
        date(2025, 12, 26),
        "holidays",
    )
    assert not window.is_active(utc(2025, 12, 23, 23, 59, 59))
    assert window.is_active(utc(2025, 12, 24))
    assert window.is_active(datetime(2025, 12, 26, 23, 59, 59, 999999, tzinfo=UTC))
    assert not window.is_active(utc(2025, 12, 27))


def test_a_date_range_with_times_includes_its_end_instant():
    window = freeze('    from: "2025-12-24T18:00"\n    to: 2025-12-26 12:00\n')
    assert window.from_ == datetime(2025, 12, 24, 18, 0)
    assert not window.is_active(utc(2025, 12, 24, 17, 59))
    assert window.is_active(utc(2025, 12, 24, 18))
    assert window.is_active(utc(2025, 12, 26, 12))
    assert not window.is_active(utc(2025, 12, 26, 12) + timedelta(microseconds=1))


def test_a_date_range_in_a_time_zone():
    window = freeze("    from: 2025-12-20\n    to: 2026-01-04\n", "Europe/Berlin")
    assert not window.is_active(utc(2025, 12, 19, 22, 59))
    assert window.is_active(utc(2025, 12, 19, 23))  # midnight in Berlin
    assert window.is_active(utc(2026, 1, 4, 22, 59, 59))
    assert not window.is_active(utc(2026, 1, 4, 23))


def test_an_explicit_offset_wins_over_the_windows_time_zone():
    window = freeze("    from: 2025-12-24T00:00:00+05:00\n    to: 2025-12-25\n", "Europe/Berlin")
    assert not window.is_active(utc(2025, 12, 23, 18, 59))
    assert window.is_active(utc(2025, 12, 23, 19))


def test_to_before_from_is_an_error_on_the_to_line():
    text = "freeze:\n  - from: 2025-12-24\n    to: 2025-12-23\n"
    assert the_error(text) == (3, "freeze[0].to", "2025-12-23 is before from (2025-12-24)")
    valid("freeze:\n  - from: 2025-12-24\n    to: 2025-12-24\n")


def test_a_bad_date():
    assert the_error("freeze:\n  - from: 2025-13-01\n    to: 2025-12-24\n") == (
        2,
        "freeze[0].from",
        "'2025-13-01' is not an ISO date (2025-12-24) or date and time (2025-12-24T18:00)",
    )


def test_the_weekend_freeze_runs_from_friday_evening_to_monday_morning():
    window = freeze('    days: [fri, sat, sun, mon]\n    start: "18:00"\n    end: "08:00"\n')
    assert window.days == ("mon", "fri", "sat", "sun")
    friday = utc(2025, 1, 10)  # a Friday
    assert not window.is_active(friday.replace(hour=17, minute=59))
    assert window.is_active(friday.replace(hour=18))
    assert window.is_active(friday + timedelta(days=1, hours=12))  # Saturday noon
    assert window.is_active(friday + timedelta(days=3, hours=7, minutes=59))  # Monday 07:59
    assert not window.is_active(friday + timedelta(days=3, hours=8))
    assert window.is_active(friday - timedelta(days=4))  # Monday 00:00: last weekend's freeze
    assert not window.is_active(friday - timedelta(days=1, hours=12))  # Wednesday noon
    assert (
        active_freeze(
            valid("freeze:\n  - days: fri-mon\n    start: 18:00\n    end: '08:00'\n"),
            friday.replace(hour=20),
        )
        is not None
    )


def test_a_single_day_window_wraps_midnight():
    window = freeze('    days: wed\n    start: "22:00"\n    end: "06:00"\n')
    wednesday = utc(2025, 1, 8)
    assert not window.is_active(wednesday.replace(hour=21, minute=59))
    assert window.is_active(wednesday.replace(hour=22))
    assert window.is_active(wednesday + timedelta(days=1, hours=5, minutes=59))
    assert not window.is_active(wednesday + timedelta(days=1, hours=6))
    assert not window.is_active(wednesday + timedelta(days=1, hours=22, minutes=30))  # Thursday
    assert not window.is_active(wednesday - timedelta(hours=1))  # Tuesday night


def test_separate_days_are_separate_windows_and_consecutive_days_one():
    apart = freeze('    days: [mon, wed]\n    start: "09:00"\n    end: "17:00"\n')
    together = freeze('    days: [mon, tue]\n    start: "09:00"\n    end: "17:00"\n')
    monday = utc(2025, 1, 6)
    assert apart.is_active(monday.replace(hour=9)) and apart.is_active(monday.replace(hour=16))
    assert not apart.is_active(monday.replace(hour=17))
    assert not apart.is_active(monday + timedelta(days=1, hours=12))  # Tuesday
    assert apart.is_active(monday + timedelta(days=2, hours=12))  # Wednesday
    assert together.is_active(monday.replace(hour=23))
    assert together.is_active(monday + timedelta(days=1, hours=16, minutes=59))
    assert not together.is_active(monday + timedelta(days=1, hours=17))


def test_whole_days_and_the_week_boundary():
    window = freeze("    days: sun-mon\n")
    sunday = utc(2025, 1, 5)
    assert not window.is_active(sunday - timedelta(microseconds=1))
    assert window.is_active(sunday)
    assert window.is_active(sunday + timedelta(days=1, hours=23, minutes=59))
    assert not window.is_active(sunday + timedelta(days=2))
    everyday = freeze("    days: [Monday, tue, WED, thu-sun]\n")
    assert everyday.days == ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    assert everyday.is_active(utc(2025, 6, 1, 12))
    assert freeze('    days: [sat]\n    end: "24:00"\n').end is None


def test_weekly_windows_keep_local_time_across_dst_changes():
    weekend = freeze('    days: fri-mon\n    start: "18:00"\n    end: "08:00"\n', "Europe/Berlin")
    # spring: Friday is CET (+1), Monday CEST (+2)
    assert not weekend.is_active(utc(2025, 3, 28, 16, 59))
    assert weekend.is_active(utc(2025, 3, 28, 17))
    assert weekend.is_active(utc(2025, 3, 31, 5, 59))
    assert not weekend.is_active(utc(2025, 3, 31, 6))
    # autumn: Friday is CEST (+2), Monday CET (+1)
    assert not weekend.is_active(utc(2025, 10, 24, 15, 59))
    assert weekend.is_active(utc(2025, 10, 24, 16))
    assert weekend.is_active(utc(2025, 10, 27, 6, 59, 59))
    assert not weekend.is_active(utc(2025, 10, 27, 7))
    # the same instant given in Berlin's own time zone
    assert weekend.is_active(datetime(2025, 3, 31, 7, 59, tzinfo=BERLIN))


def test_a_window_in_the_skipped_or_repeated_hour():
    skipped = freeze('    days: sun\n    start: "02:30"\n    end: "04:00"\n', "Europe/Berlin")
    assert not skipped.is_active(utc(2025, 3, 30, 0, 59))  # 01:59 CET
    assert skipped.is_active(utc(2025, 3, 30, 1))  # 03:00 CEST: 02:30 never happened
    assert not skipped.is_active(utc(2025, 3, 30, 2))  # 04:00 CEST
    repeated = freeze('    days: sun\n    start: "02:30"\n    end: "03:00"\n', "Europe/Berlin")
    assert repeated.is_active(utc(2025, 10, 26, 0, 45))  # 02:45 CEST
    assert not repeated.is_active(utc(2025, 10, 26, 1, 15))  # 02:15 CET
    assert repeated.is_active(utc(2025, 10, 26, 1, 45))  # 02:45 CET, the second time


def test_active_freeze_is_the_first_window_that_covers_the_instant():
    policy = valid(
        "freeze:\n  - days: [sat]\n    reason: first\n  - days: [sat, sun]\n    reason: second\n"
    )
    saturday, sunday = utc(2025, 1, 4, 12), utc(2025, 1, 5, 12)
    assert active_freeze(policy, saturday) == policy.freeze[0]
    assert active_freeze(policy, sunday) == policy.freeze[1]
    assert active_freeze(policy, utc(2025, 1, 6, 12)) is None
    assert active_freeze(DEFAULT_POLICY, saturday) is None
    with pytest.raises(ValueError, match="aware"):
        active_freeze(policy, datetime(2025, 1, 4, 12))


@pytest.mark.parametrize(
    ("window", "line", "field", "message"),
    [
        (
            "- timezone: Mars/Base\n    days: [sat]",
            2,
            "freeze[0].timezone",
            "unknown time zone 'Mars/Base'",
        ),
        (
            "- timezone: europe/berlin\n    days: [sat]",
            2,
            "freeze[0].timezone",
            "unknown time zone 'europe/berlin' (did you mean 'Europe/Berlin'?)",
        ),
        ("- days: [saturday, funday]", 2, "freeze[0].days", "'funday' is not a day"),
        ("- days: []", 2, "freeze[0].days", "list at least one day"),
        ("- days: [sat]\n    start: 25:00", 3, "freeze[0].start", "'25:00' is not a time"),
        ("- days: [sat]\n    start: 18", 3, "freeze[0].start", "18 is not a time"),
        ("- days: [sat]\n    start: '24:00'", 3, "freeze[0].start", "'24:00' is not a time"),
        ("- from: 2025-01-01", 2, "freeze[0]", "a date range needs both from and to"),
        ("- start: '18:00'", 2, "freeze[0]", "a weekly window needs days"),
        ("- reason: nothing", 2, "freeze[0]", "a freeze window needs from and to, or days"),
        (
            "- days: [sat]\n    from: 2025-01-01\n    to: 2025-01-02",
            2,
            "freeze[0]",
            "either a date range (from, to) or a weekly window",
        ),
        (
            "- days: mon-sun\n    start: '08:00'",
            2,
            "freeze[0]",
            "with all seven days the window never ends",
        ),
        ("- saturday", 2, "freeze[0]", "expected a mapping (key: value), got 'saturday'"),
    ],
)
def test_bad_freeze_windows(window: str, line: int, field: str, message: str):
    found_line, found_field, found_message = the_error(f"freeze:\n  {window}\n")
    assert (found_line, found_field) == (line, field)
    assert message in found_message


def test_freeze_must_be_a_list():
    # a collection of the wrong kind is reported on its key's line
    assert the_error("freeze:\n  days: [sat]\n") == (
        1,
        "freeze",
        "expected a list, got a mapping",
    )


# ------------------------------------------------------------------------------------ broken YAML


def test_a_yaml_syntax_error_has_its_line():
    line, field, message = the_error("mode: shadow\nthresholds:\n  pass_below: [0.3\non_error: x\n")
    assert line == 4 and field == ""
    assert message.startswith("not valid YAML: ")


def test_tabs_are_named():
    line, _, message = the_error("approvers:\n\tusers: [alice]\n")
    assert line == 2
    assert "YAML does not allow tabs for indentation, indent with spaces" in message


def test_duplicate_keys_name_both_lines():
    assert the_error("mode: shadow\non_error: fail-open\nmode: enforce\n") == (
        3,
        "",
        "duplicate key 'mode' at lines 1 and 3",
    )
    assert the_error("approvers:\n  users: [a]\n  teams: [a/b]\n  users: [b]\n") == (
        4,
        "approvers",
        "duplicate key 'users' at lines 2 and 4",
    )


def test_a_top_level_that_is_not_a_mapping():
    assert the_error("- mode: shadow\n") == (
        1,
        "",
        "the file must be a mapping of keys (mode:, thresholds:, ...), not a list",
    )
    assert the_error("\n\nenforce\n")[0] == 3


def test_a_huge_file_is_refused():
    assert the_error("#" * MAX_POLICY_BYTES + "\n") == (None, "", "file is larger than 1024 KiB")
    assert the_error("# " + "é" * (MAX_POLICY_BYTES // 2)) == (
        None,
        "",
        "file is larger than 1024 KiB",
    )


def test_an_alias_bomb_is_refused():
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
    line, _, message = the_error("\n".join(lines) + "\n")
    assert line is None
    assert message == f"more than {MAX_NODES:,} YAML nodes (each use of an alias counts)"


def test_an_alias_that_contains_itself_is_refused():
    assert "an alias that contains itself" in the_error("rollback: &a {x: *a}\n")[2]
    assert "an alias that contains itself" in the_error("rollback: &a {<<: *a}\n")[2]


def test_deep_nesting_and_too_many_nodes_are_refused_early():
    assert the_error("rollback: " + "[" * 1_000 + "]" * 1_000) == (
        1,
        "",
        "nested more than 64 levels deep",
    )
    many = "rollback:\n" + "".join(f"  k{i}: {i}\n" for i in range(MAX_NODES))
    assert the_error(many)[2].startswith(f"more than {MAX_NODES:,} YAML nodes")


def test_anchors_aliases_and_merge_keys_work():
    policy = valid(
        "approvers:\n  users: [alice]\n"
        "freeze:\n"
        "  - &berlin {timezone: Europe/Berlin, days: [sat]}\n"
        "  - <<: *berlin\n"
        "    days: [sun]\n"
        "always_hold: &held [migrations/]\n"
        "never_hold: *held\n"
    )
    assert [window.days for window in policy.freeze] == [("sat",), ("sun",)]
    assert policy.freeze[1].timezone == "Europe/Berlin"
    assert policy.never_hold == policy.always_hold == ("migrations/",)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("mode: !!binary ZW5mb3JjZQ==\n", 1, "unsupported YAML tag !!binary"),
        ("rollback: !custom {a: 1}\n", 1, "unsupported YAML tag !custom"),
        ("mode: shadow\nrollback: !!set {a}\n", 2, "unsupported YAML tag !!set"),
        ("? [a, b]\n: 1\n", 1, "a key must be plain text, not a list"),
        ("mode: shadow\n---\nmode: enforce\n", 2, "not valid YAML: expected a single document"),
        ("mode: \x07\n", 1, "not valid YAML: the control character U+0007 is not allowed"),
        ("mode: shadow\n<<: 5\n", 2, "<< (merge) needs a mapping or a list of them"),
        ("mode: !!timestamp soon\n", 1, "expected 'enforce' or 'shadow', got 'soon'"),
        ("hold_expiry_hours: !!int 1.5\n", 1, "expected a number, got '1.5'"),
    ],
)
def test_other_broken_documents(text: str, line: int, message: str):
    found_line, _, found_message = the_error(text)
    assert found_line == line
    assert found_message.startswith(message)


def test_yaml_11_surprises_are_read_as_written():
    # 18:00 is the number 1080 in YAML 1.1; `on` would be true as a key
    window = valid("freeze:\n  - days: [fri]\n    start: 18:00\n    end: 23:30\n").freeze[0]
    assert (window.start, window.end) == (time(18), time(23, 30))
    assert warnings(f"{APPROVERS}on: push\n") == [(3, "", "unknown key 'on'")]


# ------------------------------------------------------------------------------ problems, results


def test_problem_text():
    assert str(PolicyProblem(12, "thresholds.pass_below", "too big")) == (
        ".github/risk-gate.yml line 12, thresholds.pass_below: too big"
    )
    assert str(PolicyProblem(None, "", "too big", "x.yml")) == "x.yml: too big"
    assert str(PolicyProblem(3, "", "bad")) == ".github/risk-gate.yml line 3: bad"
    assert str(PolicyProblem(None, "approvers", "none")) == ".github/risk-gate.yml, approvers: none"
    assert PolicyResult(None, [PolicyProblem(1, "", "x")], []).ok is False


def test_errors_come_in_line_order_and_use_the_given_filename():
    result = parse_policy(
        "on_error: nope\nmode: nope\nhold_expiry_hours: 0\n", filename="repo/risk-gate.yml"
    )
    assert [problem.line for problem in result.errors] == [1, 2, 3]
    assert str(result.errors[0]).startswith("repo/risk-gate.yml line 1, on_error: ")


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


def test_the_example_summary_mentions_each_part():
    policy = valid(EXAMPLE.read_text())
    summary = "\n".join(policy_summary(policy))
    for fragment in [
        "mode: enforce",
        "thresholds: pass below 0.25, hold at or above 0.6",
        "service payments: critical",
        "service web: standard",
        "service docs: low risk",
        "always hold (any file matching; wins over never hold): **/migrations/**",
        "never hold (when every file matches): docs/",
        "freeze: weekly, Fri 18:00 to Mon 08:00 (Europe/Berlin)",
        "freeze: 2025-12-20 to 2026-01-04 inclusive (Europe/Berlin): year-end freeze",
        "approvers: users alice, bob; teams acme/release-managers; 1 approval required",
        "on error: fail-open",
        "hold expiry: 24 hours",
        "rollback: watch 2 SLI(s) at https://prometheus.acme.internal:9090 for 30 min in 60 s "
        "steps against 60 min before; on a regression: dispatch workflow rollback.yml; "
        "overrides for staging",
    ]:
        assert fragment in summary


def test_the_docs_show_the_example_and_every_key():
    docs = DOCS.read_text()
    assert f"```yaml\n{EXAMPLE.read_text()}```" in docs
    for key in Policy.model_fields:
        assert f"## `{key}`" in docs or f"`{key}` and" in docs or f"and `{key}`" in docs, key


def test_the_docs_glob_table():
    paths = ["docs/a.md", "web/docs/b.txt", "docs/x/y.md", "a/b/c.md", "db/migrations/1.sql"]
    assert matches_any(["docs/"], paths) == ["docs/a.md", "web/docs/b.txt", "docs/x/y.md"]
    assert matches_any(["/docs/"], paths) == ["docs/a.md", "docs/x/y.md"]
    assert matches_any(["docs/*"], paths) == ["docs/a.md"]
    assert matches_any(["*.md"], paths) == ["docs/a.md", "docs/x/y.md", "a/b/c.md"]
    assert matches_any(["**/migrations/**"], paths) == ["db/migrations/1.sql"]
    assert matches_any(["src/app.py"], ["src/app.py", "src/app.py/x", "lib/src/app.py"]) == [
        "src/app.py",
        "src/app.py/x",
    ]


def test_the_default_summary():
    assert policy_summary(DEFAULT_POLICY) == [
        "mode: enforce (holds block until approved)",
        "thresholds: the model's own",
        "services: none configured (CODEOWNERS, then top-level directories)",
        "always hold (any file matching; wins over never hold): nothing",
        "never hold (when every file matches): nothing",
        "freeze: no freeze windows",
        "approvers: none (the repository's admins and maintainers release holds)",
        "on error: fail-open (a deployment riskgate cannot assess is approved, with a note)",
        "hold expiry: 24 hours",
        "rollback: no post-deploy watch (no SLIs configured)",
    ]
    policy = valid(
        "thresholds: {hold_at_or_above: 0.8, pass_below: 0.1}\n"
        "freeze:\n  - days: wed\n    start: '22:00'\n    end: '06:00'\n"
    )
    summary = policy_summary(policy)
    assert "thresholds: pass below 0.1, hold at or above 0.8" in summary
    assert "freeze: weekly, Wed 22:00 to Thu 06:00 (UTC)" in summary


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


# -------------------------------------------------------------------------------- gate policy check


def run_check(path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = check_file(path, out, err)
    return code, out.getvalue(), err.getvalue()


def test_check_a_valid_file_prints_the_summary_and_warnings(tmp_path: Path):
    code, out, err = run_check(EXAMPLE)
    assert (code, err) == (0, "")
    assert out.startswith(f"{EXAMPLE}: valid\n  mode: enforce")
    assert "  approvers: users alice, bob;" in out
    path = tmp_path / "risk-gate.yml"
    path.write_text("mode: shadow\nmodee: x\n")
    code, out, err = run_check(path)
    assert code == 0
    assert f"warnings (1):\n  {path} line 2: unknown key 'modee' (did you mean 'mode'?)\n" in out


def test_check_an_invalid_file_prints_each_error_with_its_line(tmp_path: Path):
    path = tmp_path / "risk-gate.yml"
    path.write_text("mode: enforced\nthresholds:\n  pass_below: 2\nextra: 1\n")
    code, out, err = run_check(path)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"{path}: invalid, 2 errors",
        f"  {path} line 1, mode: expected 'enforce' or 'shadow', got 'enforced' "
        "(did you mean 'enforce'?)",
        f"  {path} line 3, thresholds.pass_below: Input should be less than or equal to 1",
        "warnings (1):",
        f"  {path} line 4: unknown key 'extra'",
    ]


def test_check_broken_yaml_and_non_utf8(tmp_path: Path):
    path = tmp_path / "risk-gate.yml"
    path.write_text("mode: [\n")
    code, _, err = run_check(path)
    assert code == 1 and f"{path} line 2: not valid YAML" in err
    path.write_bytes(b"mode: shadow\nreason: \xff\n")
    code, _, err = run_check(path)
    assert code == 1 and f"{path} line 2: not UTF-8 text (byte 0xff)" in err


def test_check_a_huge_file(tmp_path: Path):
    path = tmp_path / "risk-gate.yml"
    path.write_bytes(b"# " + "é".encode() * MAX_POLICY_BYTES)
    code, _, err = run_check(path)
    assert code == 1 and "file is larger than 1024 KiB" in err


def test_check_an_unreadable_file(tmp_path: Path):
    code, out, err = run_check(tmp_path / "missing.yml")
    assert (code, out) == (2, "")
    assert err == f"cannot read {tmp_path / 'missing.yml'}: No such file or directory\n"
    code, _, err = run_check(tmp_path)
    assert code == 2 and err.startswith(f"cannot read {tmp_path}: ")
