"""What a report or audit request names, checked: an OWNER/NAME repository, ISO dates."""

from __future__ import annotations

import re
from datetime import UTC, datetime

REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


class ReportError(ValueError):
    """A report or audit request that cannot be answered as asked (bad repository, bad date)."""


def check_repository(repository: str) -> str:
    if not REPOSITORY.match(repository):
        raise ReportError(f"not an OWNER/NAME repository: {repository!r}")
    return repository


def parse_when(value: datetime | str, what: str = "date") -> datetime:
    """An ISO date or datetime as aware UTC; a date or naive time is taken as UTC.

    Only EARLIEST..LATEST: at the calendar's ends, converting a time zone or stepping a week
    leaves the years datetime can hold.
    """
    given = value
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ReportError(
                f"{what} is not an ISO date or datetime (2024-06-01, 2024-06-01T09:00Z): {value!r}"
            ) from None
    try:
        when = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        when = None
    if when is None or not EARLIEST <= when < LATEST:
        raise ReportError(
            f"{what} must be from {EARLIEST:%Y-%m-%d} to before {LATEST:%Y-%m-%d}: {given!r}"
        )
    return when
