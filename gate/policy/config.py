"""The repository's policy, `.github/risk-gate.yml`: validated models, line-precise problems."""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from zoneinfo import ZoneInfo, available_timezones

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from gate.features.codeowners import PathPattern, PatternError, is_valid_owner
from gate.features.services import ServicesConfig, tier_word
from gate.model.artifact import Thresholds
from gate.policy.exposure import ExposurePolicy
from gate.policy.rollback import RollbackPolicy, describe

POLICY_PATH = ".github/risk-gate.yml"
MAX_POLICY_BYTES = 1024 * 1024
# Aliases are counted each time they are used, so an alias bomb stops here, long before it explodes.
MAX_NODES = 10_000
MAX_DEPTH = 64

Mode = Literal["enforce", "shadow"]
OnError = Literal["fail-open", "fail-closed"]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_NAMES = {name: index % 7 for index, name in enumerate((*DAYS, *_FULL_DAYS))}
_TIME = re.compile(r"(?P<hour>[01]?[0-9]|2[0-3]):(?P<minute>[0-5][0-9])")
# YAML 1.1 (PyYAML) reads 1e-3 as text; YAML 1.2 and people read it as a number.
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+")
_YAML = "tag:yaml.org,2002:"
_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)
_TOO_MANY_NODES = f"more than {MAX_NODES:,} YAML nodes (each use of an alias counts)"


# ---------------------------------------------------------------------------------------- models


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


Probability = Annotated[float, Field(ge=0.0, le=1.0, strict=True)]


class ThresholdsPolicy(_Section):
    """The model's own thresholds, or both explicit ones."""

    use_model_thresholds: bool = True
    pass_below: Probability | None = None
    hold_at_or_above: Probability | None = None

    @model_validator(mode="before")
    @classmethod
    def _explicit_values_imply_false(cls, data: Any) -> Any:
        if isinstance(data, dict) and "use_model_thresholds" not in data:
            explicit = any(data.get(key) is not None for key in ("pass_below", "hold_at_or_above"))
            return {**data, "use_model_thresholds": not explicit}
        return data

    @field_validator("pass_below", "hold_at_or_above")
    @classmethod
    def _not_both_styles(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and info.data.get("use_model_thresholds") is True:
            raise ValueError(
                "conflicts with use_model_thresholds: true; "
                "drop use_model_thresholds or this explicit threshold"
            )
        return value

    @field_validator("hold_at_or_above")
    @classmethod
    def _not_below_pass(cls, value: float | None, info: ValidationInfo) -> float | None:
        pass_below = info.data.get("pass_below")
        if value is not None and pass_below is not None and value < pass_below:
            raise ValueError(f"{value} is below pass_below ({pass_below})")
        return value

    @model_validator(mode="after")
    def _both_or_neither(self) -> ThresholdsPolicy:
        if self.use_model_thresholds:
            return self
        if self.pass_below is None and self.hold_at_or_above is None:
            raise ValueError(
                "use_model_thresholds is false but pass_below and hold_at_or_above are not set"
            )
        if self.pass_below is None or self.hold_at_or_above is None:
            missing = "pass_below" if self.pass_below is None else "hold_at_or_above"
            raise ValueError(
                f"{missing} is missing: explicit thresholds need both pass_below and "
                "hold_at_or_above"
            )
        return self

    def resolve(self, model: Thresholds) -> Thresholds:
        """The thresholds to apply: the model's, or both explicit ones."""
        if self.use_model_thresholds or self.pass_below is None or self.hold_at_or_above is None:
            return model
        return Thresholds(low_below=self.pass_below, high_at_or_above=self.hold_at_or_above)


class FreezeWindow(_Section):
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
            raise ValueError(f"unknown time zone {name!r}{_suggest(name, _zone_names())}")
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


def _valid_glob(glob: str) -> str:
    try:
        _pattern(glob)
    except PatternError as error:
        raise ValueError(f"{glob!r}: {error}") from None
    return glob


def _user(value: Any) -> Any:
    return _approver(value, team=False) if isinstance(value, str) else value


def _team(value: Any) -> Any:
    return _approver(value, team=True) if isinstance(value, str) else value


Glob = Annotated[str, AfterValidator(_valid_glob)]
User = Annotated[str, BeforeValidator(_user)]
Team = Annotated[str, BeforeValidator(_team)]


class Approvers(_Section):
    """Who may release a held change: GitHub logins and org/team-slug teams, lower case."""

    users: tuple[User, ...] = ()
    teams: tuple[Team, ...] = ()
    required_approvals: Annotated[int, Field(ge=1, strict=True)] = 1

    @field_validator("users", "teams")
    @classmethod
    def _deduplicated(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(names))

    @field_validator("required_approvals")
    @classmethod
    def _someone_can_approve(cls, value: int, info: ValidationInfo) -> int:
        users, teams = info.data.get("users"), info.data.get("teams")
        if users is None or teams is None:
            return value  # already reported
        if not users and not teams:
            raise ValueError("no approvers configured: nobody could release a held change")
        if not teams and value > len(users):
            count = len(users)
            raise ValueError(
                f"{value} approvals required but only {count} user{'s' * (count > 1)} listed"
            )
        return value

    @property
    def is_empty(self) -> bool:
        return not self.users and not self.teams


def _empty_services() -> ServicesConfig:
    return ServicesConfig({})


class Policy(_Section):
    """The whole of `.github/risk-gate.yml`; every key is optional."""

    mode: Mode = "enforce"
    thresholds: ThresholdsPolicy = Field(default_factory=ThresholdsPolicy)
    services: ServicesConfig = Field(default_factory=_empty_services)
    always_hold: tuple[Glob, ...] = ()
    never_hold: tuple[Glob, ...] = ()
    freeze: tuple[FreezeWindow, ...] = ()
    approvers: Approvers = Field(default_factory=Approvers)
    on_error: OnError = "fail-open"
    hold_expiry_hours: Annotated[float, Field(gt=0, strict=True, allow_inf_nan=False)] = 24.0
    rollback: RollbackPolicy | None = None
    exposure: ExposurePolicy = Field(default_factory=ExposurePolicy)


DEFAULT_POLICY = Policy()


# ------------------------------------------------------------------------------------ public API


@dataclass(frozen=True)
class PolicyProblem:
    line: int | None
    field: str
    message: str
    filename: str = POLICY_PATH

    def __str__(self) -> str:
        where = self.filename if self.line is None else f"{self.filename} line {self.line}"
        return (
            f"{where}, {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


@dataclass(frozen=True)
class PolicyResult:
    policy: Policy | None
    errors: list[PolicyProblem] = field(default_factory=list)
    warnings: list[PolicyProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_policy(text: str, filename: str = POLICY_PATH) -> PolicyResult:
    """Validate the file's text; problems carry line numbers; never raises on any text."""
    problems = _Problems(filename)
    document = _load(text, problems)
    if document is None:
        return problems.result(None)
    data = _prune(document.data, Policy, (), document, problems)
    try:
        policy = Policy.model_validate(data)
    except ValidationError as error:
        for item in error.errors(include_url=False):
            loc = tuple(item["loc"])
            problems.error(document.line_for(loc), _field(loc), _message(item))
        return problems.result(None)
    if policy.mode == "enforce" and policy.approvers.is_empty:
        problems.warn(
            document.key_line(("approvers",)),
            "approvers",
            "no approvers configured: only the repository's admins and maintainers can release "
            "a held change",
        )
    return problems.result(policy)


def active_freeze(policy: Policy, when: datetime) -> FreezeWindow | None:
    """The first freeze window (in file order) that covers `when`, an aware datetime."""
    return next((window for window in policy.freeze if window.is_active(when)), None)


def matches_any(globs: Sequence[str], paths: Sequence[str]) -> list[str]:
    """The paths (in their order) that match at least one glob; globs as in CODEOWNERS."""
    patterns = [_pattern(glob) for glob in globs]
    return [path for path in paths if any(pattern.matches(path) for pattern in patterns)]


def policy_summary(policy: Policy) -> list[str]:
    """Human lines, one fact each, for `gate policy check`."""
    return [
        _mode_line(policy.mode),
        _thresholds_line(policy.thresholds),
        *_services_lines(policy.services),
        _globs_line("always hold (any file matching; wins over never hold)", policy.always_hold),
        _globs_line("never hold (when every file matches)", policy.never_hold),
        *(
            [f"freeze: {window.describe()}" for window in policy.freeze]
            or ["freeze: no freeze windows"]
        ),
        _approvers_line(policy.approvers),
        _on_error_line(policy.on_error),
        f"hold expiry: {policy.hold_expiry_hours:g} hours",
        describe(policy.rollback),
    ]


# ------------------------------------------------------------------------------------- summaries


def _mode_line(mode: Mode) -> str:
    if mode == "shadow":
        return "mode: shadow (records what would be held; never blocks)"
    return "mode: enforce (holds block until approved)"


def _thresholds_line(thresholds: ThresholdsPolicy) -> str:
    if thresholds.use_model_thresholds:
        return "thresholds: the model's own"
    return (
        f"thresholds: pass below {thresholds.pass_below:g}, "
        f"hold at or above {thresholds.hold_at_or_above:g}"
    )


def _services_lines(services: ServicesConfig) -> list[str]:
    if not services.root:
        return ["services: none configured (CODEOWNERS, then top-level directories)"]
    return [
        f"service {name}: {tier_word(spec.tier)}, {', '.join(spec.paths)}"
        + (f", owners {' '.join(spec.owners)}" if spec.owners else "")
        for name, spec in services.root.items()
    ]


def _globs_line(label: str, globs: Sequence[str]) -> str:
    return f"{label}: {', '.join(globs) if globs else 'nothing'}"


def _approvers_line(approvers: Approvers) -> str:
    if approvers.is_empty:
        return "approvers: none (the repository's admins and maintainers release holds)"
    parts = []
    if approvers.users:
        parts.append(f"users {', '.join(approvers.users)}")
    if approvers.teams:
        parts.append(f"teams {', '.join(approvers.teams)}")
    count = approvers.required_approvals
    return f"approvers: {'; '.join(parts)}; {count} approval{'s' if count > 1 else ''} required"


def _on_error_line(on_error: OnError) -> str:
    if on_error == "fail-closed":
        return "on error: fail-closed (a deployment riskgate cannot assess is rejected)"
    return "on error: fail-open (a deployment riskgate cannot assess is approved, with a note)"


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


# ---------------------------------------------------------------------------------- time helpers


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


# ------------------------------------------------------------------------------------ validators


@lru_cache(maxsize=1024)
def _pattern(glob: str) -> PathPattern:
    return PathPattern.compile(glob)


def _approver(text: str, *, team: bool) -> str:
    name = text.strip().removeprefix("@").lower()
    if team and "/" not in name:
        raise ValueError(f"{text!r} is not a team: write org/team-slug")
    if not team and "/" in name:
        raise ValueError(f"{text!r} is a team: list it under teams")
    if not is_valid_owner(f"@{name}"):
        what = "org/team-slug" if team else "a GitHub login"
        raise ValueError(f"{text!r} is not {what}")
    return name


def _suggest(word: str, choices: Iterable[str]) -> str:
    options = list(choices)
    folded = [choice for choice in options if choice.lower() == word.lower()]
    close = folded or difflib.get_close_matches(word, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# ----------------------------------------------------------------------------------------- YAML


@dataclass(frozen=True)
class _Where:
    key_line: int
    value_line: int
    scalar: bool


@dataclass
class _Document:
    data: Any
    lines: dict[tuple[str | int, ...], _Where]

    def key_line(self, path: tuple[str | int, ...]) -> int | None:
        where = self.lines.get(path)
        return where.key_line if where else None

    def line_for(self, loc: tuple[str | int, ...]) -> int | None:
        """The deepest node on loc's path: its value's line when a scalar, else its key's line."""
        path = loc
        while path not in self.lines and path:
            path = path[:-1]
        where = self.lines.get(path)
        if where is None:
            return None
        return where.value_line if where.scalar else where.key_line


class _Problems:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.errors: list[PolicyProblem] = []
        self.warnings: list[PolicyProblem] = []

    def error(self, line: int | None, field: str, message: str) -> None:
        problem = PolicyProblem(line, field, message, self.filename)
        if problem not in self.errors:
            self.errors.append(problem)

    def warn(self, line: int | None, field: str, message: str) -> None:
        self.warnings.append(PolicyProblem(line, field, message, self.filename))

    def result(self, policy: Policy | None) -> PolicyResult:
        errors, warnings = _by_line(self.errors), _by_line(self.warnings)
        return PolicyResult(None if errors else policy, errors, warnings)


def _by_line(problems: list[PolicyProblem]) -> list[PolicyProblem]:
    return sorted(problems, key=lambda problem: problem.line or 0)


def _load(text: str, problems: _Problems) -> _Document | None:
    """The document as plain data with each path's lines, or None after reporting why not."""
    if len(text) > MAX_POLICY_BYTES or len(text.encode("utf-8", "surrogatepass")) > (
        MAX_POLICY_BYTES
    ):
        problems.error(None, "", f"file is larger than {MAX_POLICY_BYTES // 1024} KiB")
        return None
    try:
        root = _compose(text)
    except _TooLarge as error:
        problems.error(error.line, "", error.message)
        return None
    except yaml.YAMLError as error:
        problems.error(*_yaml_error(error, text))
        return None
    if root is None or (isinstance(root, ScalarNode) and root.tag == f"{_YAML}null"):
        return _Document({}, {(): _Where(1, 1, False)})
    if not isinstance(root, MappingNode):
        problems.error(
            root.start_mark.line + 1,
            "",
            f"the file must be a mapping of keys (mode:, thresholds:, ...), not {_node_kind(root)}",
        )
        return None
    if not _small_enough(root, problems):
        return None
    document = _Document(None, {})
    document.data = _convert(root, (), root.start_mark.line + 1, document, problems)
    return None if problems.errors else document


class _TooLarge(Exception):
    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class _BoundedLoader(yaml.SafeLoader):
    """Stops composing at MAX_NODES written nodes or MAX_DEPTH levels, before the work grows."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._nodes = 0
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _TooLarge(None, _TOO_MANY_NODES)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                line = self.peek_event().start_mark.line + 1
                raise _TooLarge(line, f"nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _compose(text: str) -> Node | None:
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _yaml_error(error: yaml.YAMLError, text: str) -> tuple[int | None, str, str]:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    if isinstance(error, yaml.reader.ReaderError):
        line = text.count("\n", 0, error.position) + 1
        character = f"U+{error.character:04X}" if isinstance(error.character, int) else "?"
        return line, "", f"not valid YAML: the control character {character} is not allowed"
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    message = f"not valid YAML: {f'{context}, ' if context else ''}{problem}"
    if "'\\t'" in problem:
        message += "; YAML does not allow tabs for indentation, indent with spaces"
    elif "'@'" in problem:
        message += '; quote values that start with @, e.g. "@alice", or leave the @ out'
    return line, "", message


def _small_enough(root: Node, problems: _Problems) -> bool:
    count = 0
    stack: list[tuple[Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            problems.error(None, "", _TOO_MANY_NODES)
            return False
        if depth > MAX_DEPTH:
            problems.error(
                node.start_mark.line + 1,
                "",
                f"nested more than {MAX_DEPTH} levels deep (an alias that contains itself?)",
            )
            return False
        if isinstance(node, MappingNode):
            stack.extend((child, depth + 1) for pair in node.value for child in pair)
        elif isinstance(node, SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
    return True


def _convert(
    node: Node, path: tuple[str | int, ...], key_line: int, document: _Document, problems: _Problems
) -> Any:
    line = node.start_mark.line + 1
    document.lines[path] = _Where(key_line, line, isinstance(node, ScalarNode))
    if isinstance(node, MappingNode) and node.tag == f"{_YAML}map":
        result: dict[str, Any] = {}
        for key, (key_node, value_node) in _pairs(node, path, problems).items():
            result[key] = _convert(
                value_node, (*path, key), key_node.start_mark.line + 1, document, problems
            )
        return result
    if isinstance(node, SequenceNode) and node.tag == f"{_YAML}seq":
        return [
            _convert(item, (*path, index), item.start_mark.line + 1, document, problems)
            for index, item in enumerate(node.value)
        ]
    if isinstance(node, ScalarNode):
        value = _scalar(node)
        if value is not _UNSUPPORTED:
            return value
    tag = node.tag.replace(_YAML, "!!")
    problems.error(line, _field(path), f"unsupported YAML tag {tag}")
    return None


def _pairs(
    node: MappingNode, path: tuple[str | int, ...], problems: _Problems
) -> dict[str, tuple[Node, Node]]:
    """Key -> (key node, value node), merge keys (<<) expanded; explicit keys win."""
    merged: dict[str, tuple[Node, Node]] = {}
    explicit: dict[str, tuple[Node, Node]] = {}
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1
        if key_node.tag == f"{_YAML}merge":
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            # With several sources the first wins, so the later ones go in first.
            for source in reversed(sources):
                if not isinstance(source, MappingNode):
                    problems.error(
                        line, _field(path), "<< (merge) needs a mapping or a list of them"
                    )
                    continue
                merged.update(_pairs(source, path, problems))
            continue
        if not isinstance(key_node, ScalarNode):
            problems.error(
                line, _field(path), f"a key must be plain text, not {_node_kind(key_node)}"
            )
            continue
        key = key_node.value
        if key in explicit:
            first = explicit[key][0].start_mark.line + 1
            problems.error(line, _field(path), f"duplicate key {key!r} at lines {first} and {line}")
            continue
        explicit[key] = (key_node, value_node)
    return {**merged, **explicit}


_UNSUPPORTED = object()
_CONSTRUCTOR = SafeConstructor()


def _scalar(node: ScalarNode) -> Any:
    tag, text = node.tag, node.value
    try:
        if tag == f"{_YAML}str":
            return float(text) if node.style is None and _FLOAT.fullmatch(text) else text
        if tag == f"{_YAML}null":
            return None
        if tag == f"{_YAML}bool":
            return _CONSTRUCTOR.construct_yaml_bool(node)
        # YAML 1.1 reads 18:00 as the base-60 number 1080: keep such values as the text written.
        if tag in (f"{_YAML}int", f"{_YAML}float") and ":" in text:
            return text
        if tag == f"{_YAML}int":
            return _CONSTRUCTOR.construct_yaml_int(node)
        if tag == f"{_YAML}float":
            return _CONSTRUCTOR.construct_yaml_float(node)
        if tag == f"{_YAML}timestamp":
            return _CONSTRUCTOR.construct_yaml_timestamp(node)
    # An explicit tag on a value that does not fit it (`!!timestamp soon`): PyYAML raises any of
    # these; the text goes on and validation says what is wrong.
    except (ValueError, KeyError, OverflowError, AttributeError, TypeError):
        return text
    return _UNSUPPORTED


def _node_kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return f"the value {node.value[:40]!r}"


# ------------------------------------------------------------------------ unknown keys and errors


def _prune(
    value: Any,
    annotation: Any,
    path: tuple[str | int, ...],
    document: _Document,
    problems: _Problems,
) -> Any:
    """Drop unknown keys (with a warning each) and empty values of keys that have a default."""
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, RootModel):
        return _prune(value, annotation.model_fields["root"].annotation, path, document, problems)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return (
            _prune_model(value, annotation, path, document, problems)
            if isinstance(value, dict)
            else value
        )
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is dict and isinstance(value, dict) and len(args) == 2:
        return {
            key: _prune(item, args[1], (*path, key), document, problems)
            for key, item in value.items()
        }
    if origin in (list, tuple) and isinstance(value, list) and args:
        return [
            _prune(item, args[0], (*path, index), document, problems)
            for index, item in enumerate(value)
        ]
    return value


def _prune_model(
    value: dict[str, Any],
    model: type[BaseModel],
    path: tuple[str | int, ...],
    document: _Document,
    problems: _Problems,
) -> dict[str, Any]:
    fields = {info.alias or name: info for name, info in model.model_fields.items()}
    kept: dict[str, Any] = {}
    for key, item in value.items():
        info = fields.get(key)
        if info is None:
            problems.warn(
                document.key_line((*path, key)),
                _field(path),
                f"unknown key {key!r}{_suggest(key, fields)}",
            )
        elif item is None and not info.is_required() and not _allows_none(info):
            continue  # `approvers:` with nothing under it means the defaults
        else:
            kept[key] = _prune(item, info.annotation, (*path, key), document, problems)
    return kept


def _unwrap(annotation: Any) -> Any:
    """Annotated[X, ...] -> X and X | None -> X, so that the walk can see the model or container."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            rest = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(rest) != 1:
                return annotation
            annotation = rest[0]
        else:
            return annotation


def _allows_none(info: FieldInfo) -> bool:
    annotation = info.annotation
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation)


def _field(loc: Iterable[str | int]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


_TYPE_MESSAGES = {
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "list_type": "a list",
    "tuple_type": "a list",
    "string_type": "text",
    "float_type": "a number",
    "float_parsing": "a number",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "date_type": "a date",
    "datetime_type": "a date and time",
    "time_type": 'a time "HH:MM"',
}


def _message(error: Any) -> str:
    kind, value = error["type"], error.get("input")
    if kind in _TYPE_MESSAGES:
        return f"expected {_TYPE_MESSAGES[kind]}, got {_describe_value(value)}"
    if kind == "too_short":
        return f"list at least {error['ctx']['min_length']} item"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        choices = re.findall(r"'([^']*)'", expected)
        hint = _suggest(value, choices) if isinstance(value, str) else ""
        return f"expected {expected}, got {_describe_value(value)}{hint}"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def _describe_value(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."
