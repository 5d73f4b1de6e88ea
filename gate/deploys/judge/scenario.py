"""The scenario file `gate judge` replays: read and check its JSON form into a Scenario."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gate.deploys.judge.spec import Kind, MetricSpec, Point, Scenario, Side, canary_points, finite

# A metric's kind is its SLI kind in risk-gate.yml, and picks the judge's test for it.
SLI_KINDS: dict[str, Kind] = {
    "error_ratio": "errors",  # errors and requests per step
    "error_count": "errors",  # errors per step, each step one exposure
    "latency": "latency",
    "saturation": "gauge",
}
# the judge's own words, which scenario files used before; they replay as they always did
OLD_KINDS = {"errors": "error_ratio", "gauge": "saturation"}


def load_scenario(obj: Any) -> Scenario:
    """Build a Scenario from its JSON form; ValueError says what is wrong and where."""
    if not isinstance(obj, Mapping):
        raise ValueError("scenario must be a JSON object")
    deployed_at = _timestamp(obj, "deployed_at")
    step = obj.get("step_seconds")
    if not finite(step) or step <= 0 or step != int(step):
        raise ValueError("step_seconds must be a whole number of seconds > 0")
    ends_at = _timestamp(obj, "ends_at") if obj.get("ends_at") is not None else None
    if ends_at is not None and ends_at <= deployed_at:
        raise ValueError("ends_at must be after deployed_at")
    metrics = obj.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        raise ValueError("metrics must be a non-empty list")
    parsed = [_metric(m, i, deployed_at, ends_at) for i, m in enumerate(metrics)]
    names = [spec.name for spec, _, _ in parsed]
    if len(set(names)) != len(names):
        raise ValueError("metric names must be unique")
    return Scenario(deployed_at, int(step), parsed, ends_at)


def judged_as(kind: str) -> Kind:
    """The judge's test for a scenario kind, in its words or the older ones (KeyError if none)."""
    return SLI_KINDS[OLD_KINDS.get(kind, kind)]


def in_sli_words(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The scenario with older kinds renamed to risk-gate.yml's; it replays to the same verdict."""
    metrics = obj.get("metrics")
    if not isinstance(metrics, list):
        return dict(obj)
    renamed = [
        {**m, "kind": OLD_KINDS[m["kind"]]}
        if isinstance(m, Mapping) and m.get("kind") in OLD_KINDS
        else m
        for m in metrics
    ]
    return {**obj, "metrics": renamed}


def _timestamp(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key)
    if not finite(value):
        raise ValueError(f"{key} must be a unix time in seconds")
    return int(value)


def _metric(obj: Any, index: int, deployed_at: int, ends_at: int | None):
    where = f"metrics[{index}]"
    if not isinstance(obj, Mapping):
        raise ValueError(f"{where} must be an object")
    name = obj.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{where}: name must be a non-empty string")
    where = f"{where} ({name})"
    kind = obj.get("kind")
    if not isinstance(kind, str) or OLD_KINDS.get(kind, kind) not in SLI_KINDS:
        raise ValueError(
            f"{where}: kind must be one of {', '.join(SLI_KINDS)} "
            f"(or the older {', '.join(OLD_KINDS)}), not {kind!r}"
        )
    kind = OLD_KINDS.get(kind, kind)
    direction = obj.get("direction", "increase")
    extra = {k: obj.get(k) for k in ("min_effect", "min_abs") if obj.get(k) is not None}
    try:
        spec = MetricSpec(name, SLI_KINDS[kind], direction, **extra)
    except TypeError as error:
        raise ValueError(f"{where}: {error}") from None
    except ValueError as error:
        raise ValueError(f"{where}: {str(error).removeprefix(name + ': ')}") from None
    baseline = _side(obj.get("baseline"), f"{where} baseline", kind)
    canary = _side(obj.get("canary"), f"{where} canary", kind)
    for t, _ in canary_points(canary) + list(canary.errors):
        if t <= deployed_at or (ends_at is not None and t > ends_at):
            raise ValueError(
                f"{where} canary: point at t={t:g} is outside the canary window "
                f"(after deployed_at{', up to ends_at' if ends_at else ''})"
            )
    return spec, baseline, canary


def _side(obj: Any, where: str, kind: str) -> Side:
    if not isinstance(obj, Mapping):
        raise ValueError(f"{where} must be an object")
    if SLI_KINDS[kind] != "errors":
        return Side(values=_points(obj, "values", where, counts=False))
    if kind == "error_count":
        if "requests" in obj:
            raise ValueError(f"{where}: an error_count side has errors per step, no requests")
        errors = _points(obj, "errors", where, counts=True)
        # a count per step is a rate per step: one exposure for each step Prometheus answered
        return Side(errors=errors, requests=[(t, 1.0) for t, _ in errors])
    errors = _points(obj, "errors", where, counts=True)
    requests = _points(obj, "requests", where, counts=True)
    served = dict(requests)
    for t, n in errors:
        if t not in served:
            raise ValueError(f"{where}: errors at t={t:g} with no requests point at that time")
        if n > served[t]:
            raise ValueError(f"{where}: {n:g} errors > {served[t]:g} requests at t={t:g}")
    return Side(errors=errors, requests=requests)


def _points(obj: Mapping[str, Any], key: str, where: str, counts: bool) -> list[Point]:
    raw = obj.get(key)
    if not isinstance(raw, list):
        raise ValueError(f"{where}: {key} must be a list of [t, {'n' if counts else 'v'}]")
    points: list[Point] = []
    seen: set[float] = set()
    for i, item in enumerate(raw):
        spot = f"{where}.{key}[{i}]"
        if not isinstance(item, list | tuple) or len(item) != 2 or not finite(item[0]):
            raise ValueError(f"{spot}: expected [t, {'n' if counts else 'v'}] with t in seconds")
        t, v = float(item[0]), item[1]
        if v is None and not counts:
            continue  # no value for that step (Prometheus NaN): a gap
        if not finite(v) or (counts and v < 0):
            need = "count must be a number >= 0" if counts else "value must be a number or null"
            raise ValueError(f"{spot}: {need}")
        if counts:
            if t in seen:
                raise ValueError(f"{spot}: duplicate timestamp t={t:g}")
            seen.add(t)
        points.append((t, float(v)))
    return points
