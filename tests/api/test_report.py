"""GET /api/v1/report: the autonomy report's figures as JSON, bad queries refused with 422."""

from __future__ import annotations

import pytest

from gate.api import report as report_api
from gate.store.tokens import create_token
from tests.reports.autonomy.rows import REPO, check_figures, check_weeks, seed


def _with_router(client):
    """The app's /api/v1/report, called with a token of REPO."""
    if not any(getattr(r, "path", None) == "/api/v1/report" for r in client.app.routes):
        client.app.include_router(report_api.router)
    token = create_token(client.app.state.services.db, REPO, "test")
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def test_report_api_answers_the_same_figures(client):
    _with_router(client)
    seed(client.app.state.services.db)
    response = client.get(
        "/api/v1/report", params={"repo": REPO, "since": "2024-06-03", "until": "2024-06-17"}
    )
    assert response.status_code == 200
    check_figures(response.json())
    check_weeks(response.json()["weeks"])


@pytest.mark.parametrize(
    "params",
    [
        {"repo": "octo-org", "since": "2024-06-03"},
        {"repo": REPO, "since": "yesterday"},
        {"repo": REPO, "since": "2024-06-03", "until": "2024-06-01"},
        {"repo": REPO},
    ],
)
def test_report_api_refuses_bad_queries(client, params):
    _with_router(client)
    assert client.get("/api/v1/report", params=params).status_code == 422
