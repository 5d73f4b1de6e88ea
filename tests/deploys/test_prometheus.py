"""The Prometheus client: retries what may pass, refuses bad queries, turns answers into points."""

from __future__ import annotations

import httpx
import pytest

from gate.deploys.prometheus import PrometheusError, PrometheusQueryError, query_range

URL = "http://prom:9090"


def matrix(*series: list[tuple[float, str]]) -> dict:
    return {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {"metric": {"i": str(n)}, "values": values} for n, values in enumerate(series)
            ],
        },
    }


def client(*answers: httpx.Response | Exception) -> tuple[httpx.Client, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.Client(transport=httpx.MockTransport(handle)), seen


def ask(http: httpx.Client) -> list[tuple[float, float]]:
    return query_range(URL, "up", 100, 220, 60, client=http, sleep=lambda _s: None)


def test_series_are_summed_per_step_and_gaps_stay_gaps():
    http, seen = client(
        httpx.Response(200, json=matrix([(100, "1"), (160, "2")], [(160, "3"), (220, "NaN")]))
    )
    assert ask(http) == [(100.0, 1.0), (160.0, 5.0)]  # 220: NaN only, so no point at all
    params = seen[0].url.params
    assert seen[0].url.path == "/api/v1/query_range"
    assert (params["query"], params["start"], params["end"], params["step"]) == (
        "up",
        "100.000",
        "220.000",
        "60s",
    )


def test_overload_and_network_errors_are_retried():
    http, seen = client(
        httpx.Response(503, text="overloaded"),
        httpx.ConnectError("refused"),
        httpx.Response(200, json=matrix([(100, "7")])),
    )
    assert ask(http) == [(100.0, 7.0)]
    assert len(seen) == 3


def test_prometheus_down_is_an_error_not_an_empty_answer():
    http, _ = client(*[httpx.ConnectError("refused")] * 3)
    with pytest.raises(PrometheusError, match="failed 3 times; last: ConnectError"):
        ask(http)


def test_a_bad_query_is_refused_at_once_with_prometheus_s_words():
    bad = {"status": "error", "errorType": "bad_data", "error": "parse error at char 3"}
    http, seen = client(httpx.Response(400, json=bad))
    with pytest.raises(PrometheusQueryError, match="parse error at char 3"):
        ask(http)
    assert len(seen) == 1


def test_an_instant_vector_is_not_a_range_answer():
    vector = {"status": "success", "data": {"resultType": "vector", "result": []}}
    http, _ = client(httpx.Response(200, json=vector))
    with pytest.raises(PrometheusQueryError, match="must give a matrix"):
        ask(http)


def test_too_many_points_are_refused_before_asking():
    http, seen = client()
    with pytest.raises(PrometheusQueryError, match="more than 11000 points"):
        query_range(URL, "up", 0, 12_000 * 5, 5, client=http)
    assert seen == []
