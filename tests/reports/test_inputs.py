"""Report requests' dates: ISO dates and datetimes, taken as UTC; anything else refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gate.reports.inputs import ReportError, parse_when


def test_dates_are_iso_and_read_as_utc():
    with pytest.raises(ReportError, match="ISO date"):
        parse_when("last tuesday")
    since = datetime(2024, 6, 3, tzinfo=UTC)
    assert parse_when("2024-06-03") == since
    assert parse_when("2024-06-03T02:00+02:00") == since
