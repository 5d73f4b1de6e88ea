"""`freeze:` in risk-gate.yml: date ranges and weekly windows in a time zone; which is active."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, available_timezones

from pydantic import Field, ValidationInfo, field_validator, model_validator

from gate.policy.problems import suggest
from gate.policy.section import Section

if TYPE_CHECKING:
    from gate.policy.schema import Policy

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_NAMES = {name: index % 7 for index, name in enumerate((*DAYS, *_FULL_DAYS))}
_TIME = re.compile(r"(?P<hour>[01]?[0-9]|2[0-3]):(?P<minute>[0-5][0-9])")
_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


class FreezeWindow(Section):
    """A date range (`from`/`to`, inclusive) or a weekly window (`days`, `start`, `end`)."""

    # timezone first: the from/to validators below read it from info.data
    timezone: str = "UTC"
    from_: datetime | date | None = Field(None, alias="from")
    to: datetime | date | None = None
    days: tuple[Day, ...] | None = None
    start: time | None = None
    end: time | None = None  # None: midnight at the end of the last day
    reason: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        if _zone(name) is None:
            raise ValueError(f"unknown time zone {name!r}{suggest(name, _zone_names())}")
        return name

    @field_validator("from_", "to", mode="before")
    @classmethod
    def _iso_date(cls, value: Any) -> Any:
        if isinstance(value, str):
            return _parse_iso(value)
        return value

    @field_validator("to")
    @classmethod
    def _to_not_before_from(
        cls, value: datetime | date | None, info: ValidationInfo
    ) -> datetime | date | None:
        begin, zone = info.data.get("from_"), _zone(info.data.get("timezone", ""))
        if value is None or begin is None or zone is None:
            return value
        if _instant(value, zone, end=True) < _instant(begin, zone, end=False):
            raise ValueError(f"{value.isoformat()} is before from ({begin.isoformat()})")
        return value

    @field_validator("days", mode="before")
    @classmethod
    def _weekdays(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part for part in re.split(r"[,\s]+", value) if part]
        if not isinstance(value, list | tuple):
            return value
        indexes: set[int] = set()
        for item in value:
            if not isinstance(item, str):
                raise ValueError(f"{item!r} is not a day: use mon, tue, ... sun or a range fri-mon")
            indexes.update(_day_range(item))
        if not indexes:
            raise ValueError("list at least one day")
        return tuple(DAYS[index] for index in sorted(indexes))

    @field_validator("start", "end", mode="before")
    @classmethod
    def _clock_time(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, time) or value is None:
            return value
        if info.field_name == "end" and value == "24:00":
            return None
        match = _TIME.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            raise ValueError(f'{value!r} is not a time: write "HH:MM", e.g. "18:00"')
        return time(int(match["hour"]), int(match["minute"]))

    @model_validator(mode="after")
    def _one_kind(self) -> FreezeWindow:
        dated = self.from_ is not None or self.to is not None
        weekly = self.days is not None or self.start is not None or self.end is not None
        if dated and weekly:
            raise ValueError(
                "a freeze window is either a date range (from, to) or a weekly window "
                "(days, start, end), not both"
            )
        if dated and (self.from_ is None or self.to is None):
            raise ValueError("a date range needs both from and to")
        if weekly and self.days is None:
            raise ValueError("a weekly window needs days (start and end are times on those days)")
        if not dated and not weekly:
            raise ValueError("a freeze window needs from and to, or days")
        if self.days is not None and len(self.days) == 7 and (self.start, self.end) != (None, None):
            raise ValueError("with all seven days the window never ends: drop start and end")
        return self

    @property
    def kind(self) -> Literal["dates", "weekly"]:
        return "weekly" if self.days is not None else "dates"

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone) or ZoneInfo("UTC")

    def is_active(self, when: datetime) -> bool:
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError("is_active needs an aware datetime")
        if self.kind == "dates":
            assert self.from_ is not None and self.to is not None
            instant = when.astimezone(UTC)
            return (
                _instant(self.from_, self.zone, end=False)
                <= instant
                <= _instant(self.to, self.zone, end=True)
            )
        # Weekly windows follow the wall clock, so they keep their local times across DST changes.
        local = when.astimezone(self.zone).replace(tzinfo=None)
        return any(begin <= local < finish for begin, finish in self._occurrences(local.date()))

    def _occurrences(self, today: date) -> Iterable[tuple[datetime, datetime]]:
        assert self.days is not None
        begin_time = self.start or time(0)
        for first, length in _spans({DAYS.index(day) for day in self.days}):
            for back in range(8):
                day = today - timedelta(days=back)
                if day.weekday() != first:
                    continue
                last = day + timedelta(days=length - 1)
                if self.end is None:
                    finish = datetime.combine(last + timedelta(days=1), time(0))
                elif length == 1 and self.end <= begin_time:
                    finish = datetime.combine(last + timedelta(days=1), self.end)  # wraps midnight
                else:
                    finish = datetime.combine(last, self.end)
                yield datetime.combine(day, begin_time), finish

    def describe(self) -> str:
        if self.kind == "dates":
            assert self.from_ is not None and self.to is not None
            text = f"{self.from_.isoformat()} to {self.to.isoformat()} inclusive"
        else:
            text = f"weekly, {_describe_days(self.days or (), self.start, self.end)}"
        text += f" ({self.timezone})"
        return f"{text}: {self.reason}" if self.reason else text


def active_freeze(policy: Policy, when: datetime) -> FreezeWindow | None:
    """The first freeze window (in file order) that covers `when`, an aware datetime."""
    return next((window for window in policy.freeze if window.is_active(when)), None)


def _describe_days(days: Sequence[Day], start: time | None, end: time | None) -> str:
    spans = _spans({DAYS.index(day) for day in days})
    begin = (start or time(0)).strftime("%H:%M")
    finish = end.strftime("%H:%M") if end else "24:00"
    texts = []
    for first, length in spans:
        if length == 7:
            texts.append("every day, all day")
            continue
        last = (first + length - 1) % 7
        wraps = length == 1 and end is not None and end <= (start or time(0))
        end_day = DAYS[(last + 1) % 7] if wraps else DAYS[last]
        texts.append(f"{DAYS[first].title()} {begin} to {end_day.title()} {finish}")
    return "; ".join(texts)


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    # ZoneInfo raises KeyError, ValueError, OSError and more for the many kinds of bad names.
    except Exception:
        return None


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def _parse_iso(text: str) -> date | datetime:
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO date (2025-12-24) or date and time (2025-12-24T18:00)"
        ) from None


def _instant(value: date | datetime, zone: ZoneInfo, *, end: bool) -> datetime:
    """A UTC instant: a date starts at local midnight; as an end it lasts until the next one."""
    try:
        if not isinstance(value, datetime):
            day = value + timedelta(days=1) if end else value
            instant = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
            return instant - timedelta(microseconds=1) if end else instant
        if value.tzinfo is None or value.utcoffset() is None:
            value = value.replace(tzinfo=zone)
        return value.astimezone(UTC)
    except OverflowError:  # within a day of year 1 or 9999
        return _EARLIEST if value.year < 5000 else _LATEST


def _day_range(text: str) -> list[int]:
    words = [word.strip().lower() for word in text.split("-")]
    if len(words) not in (1, 2) or any(word not in _DAY_NAMES for word in words):
        raise ValueError(f"{text!r} is not a day: use mon, tue, ... sun or a range fri-mon")
    first, last = _DAY_NAMES[words[0]], _DAY_NAMES[words[-1]]
    return [(first + offset) % 7 for offset in range((last - first) % 7 + 1)]


def _spans(days: set[int]) -> list[tuple[int, int]]:
    """Runs of consecutive days (Sunday runs on into Monday) as (first day, length)."""
    if len(days) == 7:
        return [(0, 7)]
    spans = []
    for day in sorted(days):
        if (day - 1) % 7 in days:
            continue
        length = 1
        while (day + length) % 7 in days:
            length += 1
        spans.append((day, length))
    return spans
