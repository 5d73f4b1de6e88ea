"""The webhook intake: signatures, bad bodies, duplicates, and every real delivery in ../shared."""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from gate.store import Delivery, Job
from tests.conftest import WEBHOOKS, deliver, needs_shared, sign, wait_until

pytestmark = needs_shared


def stored(client) -> list[Delivery]:
    with client.app.state.services.db.session() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def job_count(client) -> int:
    with client.app.state.services.db.session() as session:
        return session.scalar(select(func.count()).select_from(Job)) or 0


PING = (WEBHOOKS / "ping" / "ping.json").read_bytes() if WEBHOOKS.is_dir() else b"{}"


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "sha256=" + "0" * 64,
        sign(PING, secret="another secret"),
        sign(PING).replace("sha256=", "sha1="),
        sign(PING)[:-1],
    ],
    ids=["missing", "zeros", "wrong-secret", "wrong-algorithm", "truncated"],
)
def test_bad_signature_is_401_and_nothing_is_stored(client, signature):
    response = deliver(client, "ping", PING, signature=signature)
    assert response.status_code == 401
    assert stored(client) == [] and job_count(client) == 0


def test_signature_covers_the_exact_bytes(client):
    reformatted = json.dumps(json.loads(PING)).encode()  # same JSON, other bytes
    response = deliver(client, "ping", reformatted, signature=sign(PING))
    assert response.status_code == 401


@pytest.mark.parametrize(
    "body", [b"not json", b"[1, 2]", b'"a string"', b"\xff\xfe{}", b""], ids=str
)
def test_body_that_is_not_a_json_object_is_400_and_not_stored(client, body):
    response = deliver(client, "ping", body)
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]
    assert stored(client) == []


def test_missing_event_or_delivery_header_is_400(client):
    headers = {"X-Hub-Signature-256": sign(PING), "Content-Type": "application/json"}
    response = client.post("/webhooks/github", content=PING, headers=headers)
    assert response.status_code == 400
    assert stored(client) == []


def test_oversized_body_is_413_without_reading_it(client):
    headers = {
        "X-GitHub-Event": "ping",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(b"{}"),
        "Content-Length": str(30 * 1024 * 1024),
    }
    response = client.post("/webhooks/github", content=b"{}", headers=headers)
    assert response.status_code == 413


def test_same_delivery_id_twice_is_stored_and_processed_once(client, fake_github):
    delivery_id = str(uuid.uuid4())
    button = (WEBHOOKS / "check_run" / "requested_action.json").read_bytes()  # handled
    first = deliver(client, "check_run", button, delivery_id=delivery_id)
    second = deliver(client, "check_run", button, delivery_id=delivery_id)
    assert (first.status_code, second.status_code) == (202, 202)
    assert (first.json()["duplicate"], second.json()["duplicate"]) == (False, True)
    assert len(stored(client)) == 1 and job_count(client) == 1


def test_form_encoded_delivery_is_accepted(client):
    body = urlencode({"payload": PING.decode()}).encode()
    response = client.post(
        "/webhooks/github",
        content=body,
        headers={
            "X-GitHub-Event": "ping",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": sign(body),
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert response.status_code == 202
    (delivery,) = stored(client)
    assert delivery.event == "ping"


def test_every_real_delivery_is_stored_with_its_metadata_and_unhandled_ones_ignored(client):
    """The 31 real deliveries from octokit/webhooks, exactly as GitHub sent them."""
    sent = {}
    for path in sorted(WEBHOOKS.glob("*/*.json")):
        if path.parent.name == "pull_request":
            continue  # scored end to end in test_pull_request against a real repository
        body = path.read_bytes()
        delivery_id = str(uuid.uuid4())
        response = deliver(client, path.parent.name, body, delivery_id=delivery_id)
        assert response.status_code == 202, path
        sent[delivery_id] = json.loads(body)

    def all_processed():
        rows = stored(client)
        return rows if all(row.outcome != "queued" for row in rows) else None

    rows = wait_until(all_processed, what="the worker to process every delivery")
    assert {row.delivery_id for row in rows} == set(sent)
    acted_on = {
        ("installation", "created"),
        ("installation_repositories", "added"),
        ("check_run", "requested_action"),  # refused: not a riskgate check run
    }
    for row in rows:
        payload = sent[row.delivery_id]
        assert row.outcome == ("done" if (row.event, row.action) in acted_on else "ignored")
        assert json.loads(row.payload) == payload
        assert row.action == payload.get("action")
        assert row.repository == (payload.get("repository") or {}).get("full_name")
        assert row.installation_id == (payload.get("installation") or {}).get("id")


def test_pull_request_closed_is_stored_and_ignored(client, fake_github):
    body = (WEBHOOKS / "pull_request" / "closed.json").read_bytes()
    deliver(client, "pull_request", body)
    wait_until(lambda: stored(client)[0].outcome != "queued")
    assert stored(client)[0].outcome == "ignored"
    assert fake_github.requests == []


def test_metrics_count_deliveries_by_event_and_outcome(client):
    deliver(client, "ping", PING)
    deliver(client, "ping", PING, signature="sha256=bad")
    text = client.get("/metrics").text
    assert 'gate_webhook_deliveries_total{event="ping",outcome="ignored"}' in text
    assert 'gate_webhook_deliveries_total{event="unknown",outcome="rejected"}' in text


def test_a_delivery_no_handler_takes_is_stored_as_ignored_without_a_job(client):
    assert deliver(client, "ping", PING).status_code == 202
    (delivery,) = stored(client)
    assert delivery.outcome == "ignored" and job_count(client) == 0
