"""Prometheus's HTTP API, `/api/v1/query_range`: one series of points per query, retried."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import httpx

Point = tuple[float, float]

ATTEMPTS = 3
BACKOFF_SECONDS = (0.5, 2.0)
MAX_POINTS = 11_000  # Prometheus refuses more than 11,000 points per series


class PrometheusError(RuntimeError):
    """Prometheus could not answer (down, overloaded, timed out): no data, never a verdict."""


class PrometheusQueryError(PrometheusError):
    """Prometheus refused the query itself (bad PromQL): the policy needs fixing."""


def query_range(
    base_url: str,
    query: str,
    start: float,
    end: float,
    step: int,
    *,
    timeout: float = 10.0,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Point]:
    """Evaluate `query` at start, start + step, ... end; series summed per timestamp.

    A time with no sample in any series is absent from the result (a gap), as are NaN and
    infinite values. Network errors and 5xx/429 answers are retried; 4xx is the query's fault.
    """
    if end < start:
        return []
    if (end - start) / step + 1 > MAX_POINTS:
        raise PrometheusQueryError(f"{query[:80]!r}: more than {MAX_POINTS} points at {step} s")
    params = {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step}s"}
    owned = client is None
    http = client or httpx.Client(timeout=timeout)
    try:
        body = _get_with_retries(http, f"{base_url}/api/v1/query_range", params, timeout, sleep)
    finally:
        if owned:
            http.close()
    return _points(body, query)


def _get_with_retries(
    http: httpx.Client,
    url: str,
    params: dict[str, str],
    timeout: float,
    sleep: Callable[[float], None],
) -> dict:
    problem = ""
    for attempt in range(ATTEMPTS):
        if attempt:
            sleep(BACKOFF_SECONDS[min(attempt - 1, len(BACKOFF_SECONDS) - 1)])
        try:
            response = http.get(url, params=params, timeout=timeout)
        except httpx.HTTPError as error:
            problem = f"{error.__class__.__name__}: {error}"
            continue
        if response.status_code >= 500 or response.status_code == 429:
            problem = f"HTTP {response.status_code}: {_error_text(response)}"
            continue
        if response.status_code >= 400:
            raise PrometheusQueryError(
                f"Prometheus refused {params['query'][:200]!r}: HTTP {response.status_code}: "
                f"{_error_text(response)}"
            )
        try:
            body = response.json()
        except ValueError:
            problem = "the answer is not JSON"
            continue
        if not isinstance(body, dict) or body.get("status") != "success":
            raise PrometheusQueryError(f"Prometheus answered {str(body)[:300]}")
        return body
    raise PrometheusError(f"Prometheus at {url} failed {ATTEMPTS} times; last: {problem[:300]}")


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        return str(body.get("error") or body)[:300]
    return str(body)[:300]


def _points(body: dict, query: str) -> list[Point]:
    data = body.get("data")
    if not isinstance(data, dict):
        raise PrometheusQueryError(f"{query[:80]!r}: no data in the answer")
    if data.get("resultType") != "matrix":
        raise PrometheusQueryError(
            f"{query[:80]!r}: a range query must give a matrix, not {data.get('resultType')!r}"
        )
    sums: dict[float, float] = {}
    for series in data.get("result") or []:
        for t, text in series.get("values") or []:
            value = float(text)
            if math.isfinite(value):
                sums[float(t)] = sums.get(float(t), 0.0) + value
    return sorted(sums.items())
