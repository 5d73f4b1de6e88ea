"""/healthz and /metrics."""

from __future__ import annotations

from tests.conftest import needs_shared

pytestmark = needs_shared


def test_healthz_reports_database_and_model(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["database"] == "ok" and body["model"]


def test_healthz_is_503_when_the_database_is_gone(client):
    client.app.state.services.db.engine.dispose()
    client.app.state.services.db.engine.pool._creator = _refuse  # type: ignore[attr-defined]
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["ok"] is False


def _refuse(*_args):
    raise ConnectionRefusedError("database down")


def test_metrics_expose_jobs_github_calls_and_latency_families(client):
    text = client.get("/metrics").text
    for family in (
        "gate_webhook_deliveries_total",
        "gate_jobs_in_state",
        "gate_job_duration_seconds",
        "gate_delivery_to_check_seconds",
        "gate_github_requests_total",
    ):
        assert family in text
