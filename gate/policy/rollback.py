"""`rollback:` in risk-gate.yml: what to watch after a deployment and what to do on a regression."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SliKind = Literal["error_ratio", "error_count", "latency", "saturation"]
Baseline = Literal["before", "side_by_side"]
Direction = Literal["increase", "decrease", "either"]

# The judge's three kinds: counts (errors), distributions (latency) and levels (gauge).
JUDGE_KIND: dict[str, str] = {
    "error_ratio": "errors",
    "error_count": "errors",
    "latency": "latency",
    "saturation": "gauge",
}
PLACEHOLDERS = ("environment", "service", "sha", "version", "step")
ACTION_PLACEHOLDERS = ("environment", "sha", "last_good_sha", "deployment", "service")
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
MAX_SLIS = 20

Minutes = Annotated[float, Field(gt=0, le=24 * 60, strict=False, allow_inf_nan=False)]
Name = Annotated[str, Field(min_length=1, max_length=100)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def render(template: str, values: dict[str, str]) -> str:
    """Fill `{{name}}` placeholders; unknown names were refused when the policy was read."""
    return _PLACEHOLDER.sub(lambda found: values.get(found.group(1), found.group(0)), template)


def _known_placeholders(text: str, allowed: tuple[str, ...]) -> str:
    unknown = sorted(placeholders(text) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown placeholder {{{{{unknown[0]}}}}}; known: "
            + ", ".join(f"{{{{{name}}}}}" for name in allowed)
        )
    return text


class PrometheusSource(_Section):
    """Where the SLIs are queried (Prometheus's HTTP API, `/api/v1/query_range`)."""

    url: Annotated[str, Field(min_length=1, max_length=2000)]
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10.0

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
            raise ValueError(f"{url!r} is not an http(s) URL")
        return url.rstrip("/")


class Sli(_Section):
    """One service-level indicator: PromQL per step, what kind it is and which way is worse."""

    name: Name
    kind: SliKind
    query: str | None = None  # latency, saturation: the value; error_count: errors per step
    errors: str | None = None  # error_ratio: failed requests per step
    requests: str | None = None  # error_ratio: all requests per step
    direction: Direction = "increase"
    min_effect: Annotated[float, Field(ge=0, le=100)] | None = None
    min_abs: Annotated[float, Field(ge=0)] | None = None
    services: tuple[Name, ...] = ()  # `{{service}}` takes each of these in turn
    environments: tuple[Name, ...] = ()  # only these environments; empty: all

    @field_validator("query", "errors", "requests")
    @classmethod
    def _placeholders(cls, text: str | None) -> str | None:
        if text is not None:
            if not text.strip():
                raise ValueError("must not be empty")
            _known_placeholders(text, PLACEHOLDERS)
        return text

    @model_validator(mode="after")
    def _queries_fit_the_kind(self) -> Sli:
        if self.kind == "error_ratio":
            if self.errors is None or self.requests is None or self.query is not None:
                raise ValueError(
                    "an error_ratio SLI has `errors` and `requests` (counts per step), no `query`"
                )
        elif self.query is None or self.errors is not None or self.requests is not None:
            raise ValueError(f"a {self.kind} SLI has one `query`, no `errors` or `requests`")
        if self.kind in ("error_ratio", "error_count") and self.direction != "increase":
            raise ValueError("errors only regress upwards: direction must be increase")
        uses_service = any("service" in placeholders(q) for q in self.queries().values())
        if uses_service and not self.services:
            raise ValueError("the queries use {{service}}: list the services it takes")
        return self

    def queries(self) -> dict[str, str]:
        found = {"errors": self.errors, "requests": self.requests, "query": self.query}
        return {role: text for role, text in found.items() if text is not None}


class RollbackAction(_Section):
    """How to roll back: dispatch a workflow, or create a deployment of the last good SHA."""

    workflow: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    ref: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    inputs: dict[Name, Annotated[str, Field(max_length=1000)]] = Field(default_factory=dict)
    redeploy: bool = False

    @field_validator("inputs")
    @classmethod
    def _input_placeholders(cls, inputs: dict[str, str]) -> dict[str, str]:
        if len(inputs) > 10:
            raise ValueError("GitHub accepts at most 10 workflow_dispatch inputs")
        for value in inputs.values():
            _known_placeholders(value, ACTION_PLACEHOLDERS)
        return inputs

    @model_validator(mode="after")
    def _one_way(self) -> RollbackAction:
        if (self.workflow is None) == (not self.redeploy):
            raise ValueError(
                "say how to roll back: `workflow:` (a workflow_dispatch workflow) or "
                "`redeploy: true` (a new deployment of the last good SHA), not both"
            )
        if self.redeploy and self.inputs:
            raise ValueError("inputs belong to a workflow; redeploy takes none")
        return self


class WatchSettings(_Section):
    """The knobs an environment may override."""

    prometheus: PrometheusSource | None = None
    watch_minutes: Minutes | None = None
    step_seconds: Annotated[int, Field(ge=5, le=3600)] | None = None
    baseline_minutes: Minutes | None = None
    baseline: Baseline | None = None
    act: bool | None = None
    freeze: bool | None = None
    action: RollbackAction | None = None


class RollbackPolicy(WatchSettings):
    """The whole `rollback:` section: defaults, SLIs and per-environment overrides."""

    slis: tuple[Sli, ...] = ()
    environments: dict[Name, WatchSettings] = Field(default_factory=dict)

    @field_validator("slis")
    @classmethod
    def _unique_names(cls, slis: tuple[Sli, ...]) -> tuple[Sli, ...]:
        names = [sli.name for sli in slis]
        duplicate = next((name for name in names if names.count(name) > 1), None)
        if duplicate:
            raise ValueError(f"two SLIs are named {duplicate!r}")
        if len(slis) > MAX_SLIS:
            raise ValueError(f"at most {MAX_SLIS} SLIs")
        return slis

    @model_validator(mode="after")
    def _every_environment_is_watchable(self) -> RollbackPolicy:
        if not self.slis:
            return self
        for environment in self.environments or {"": WatchSettings()}:
            plan = self.settings_for(environment)
            where = f"environment {environment!r}: " if environment else ""
            if plan.act and plan.action is None:
                raise ValueError(
                    f"{where}act is true but no action says how to roll back; "
                    "add `action:` or set `act: false` to only alert"
                )
            if plan.baseline == "side_by_side":
                for sli in self.slis:
                    versioned = (
                        placeholders(q) & {"version", "sha"} for q in sli.queries().values()
                    )
                    if not all(versioned):
                        raise ValueError(
                            f"{where}baseline side_by_side compares versions: SLI {sli.name!r} "
                            "must select by {{version}} (or {{sha}})"
                        )
        return self

    def settings_for(self, environment: str) -> ResolvedSettings:
        override = self.environments.get(environment, WatchSettings())

        def pick(name: str, default: Any) -> Any:
            value = getattr(override, name)
            if value is None:
                value = getattr(self, name)
            return default if value is None else value

        return ResolvedSettings(
            prometheus=pick("prometheus", None),
            watch_minutes=pick("watch_minutes", 30.0),
            step_seconds=pick("step_seconds", 60),
            baseline_minutes=pick("baseline_minutes", 60.0),
            baseline=pick("baseline", "before"),
            act=pick("act", True),
            freeze=pick("freeze", True),
            action=pick("action", None),
        )

    def slis_for(self, environment: str) -> list[Sli]:
        return [sli for sli in self.slis if not sli.environments or environment in sli.environments]


class ResolvedSettings(_Section):
    prometheus: PrometheusSource | None
    watch_minutes: float
    step_seconds: int
    baseline_minutes: float
    baseline: Baseline
    act: bool
    freeze: bool
    action: RollbackAction | None


def describe(rollback: RollbackPolicy | None) -> str:
    """One line for `gate policy check`."""
    if rollback is None or not rollback.slis:
        return "rollback: no post-deploy watch (no SLIs configured)"
    plan = rollback.settings_for("")
    how = "alert only"
    if plan.act and plan.action is not None:
        how = (
            f"dispatch workflow {plan.action.workflow}"
            if plan.action.workflow
            else "redeploy the last good SHA"
        )
    where = plan.prometheus.url if plan.prometheus else "no Prometheus URL"
    extra = f"; overrides for {', '.join(rollback.environments)}" if rollback.environments else ""
    against = (
        "the stable version beside it"
        if plan.baseline == "side_by_side"
        else f"{plan.baseline_minutes:g} min before"
    )
    return (
        f"rollback: watch {len(rollback.slis)} SLI(s) at {where} for {plan.watch_minutes:g} min "
        f"in {plan.step_seconds} s steps against {against}; "
        f"on a regression: {how}{extra}"
    )
