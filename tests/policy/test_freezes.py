"""`freeze:`: date ranges, weekly windows, time zones and DST, and their errors."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from gate.policy.freezes import FreezeWindow, active_freeze
from gate.policy.schema import DEFAULT_POLICY
from tests.policy.policy_text import BERLIN, the_error, utc, valid


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
