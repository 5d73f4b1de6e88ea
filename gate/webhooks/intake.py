"""POST /webhooks/github: verify the signature, store the delivery, answer 202. Nothing else."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from gate import metrics
from gate.store.deliveries import IncomingDelivery, record_delivery
from gate.webhooks import handler_for

# GitHub caps payloads at 25 MB; anything larger is not from GitHub
MAX_BODY_BYTES = 26 * 1024 * 1024

router = APIRouter()


def signature_is_valid(secret: bytes, body: bytes, header: str | None) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


def _problem(
    status: int, detail: str, event: str = "unknown", outcome: str = "rejected"
) -> JSONResponse:
    metrics.DELIVERIES.labels(event=event, outcome=outcome).inc()
    return JSONResponse({"detail": detail}, status_code=status)


def _parse(body: bytes, content_type: str) -> dict[str, Any]:
    if content_type.startswith("application/x-www-form-urlencoded"):
        # Apps can be set to send form-encoded deliveries: payload=<json>
        fields = parse_qs(body.decode("utf-8"), strict_parsing=True)
        body = fields["payload"][0].encode()
    payload = json.loads(body)
    if not isinstance(payload, dict):
        raise ValueError("the payload is not a JSON object")
    return payload


@router.post("/webhooks/github", status_code=202, tags=["webhooks"])
async def receive_delivery(request: Request) -> JSONResponse:
    intake = request.app.state.intake
    x_github_event = request.headers.get("x-github-event")
    x_github_delivery = request.headers.get("x-github-delivery")
    x_hub_signature_256 = request.headers.get("x-hub-signature-256")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return _problem(413, f"payload over {MAX_BODY_BYTES:,} bytes")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return _problem(413, f"payload over {MAX_BODY_BYTES:,} bytes")
    if not signature_is_valid(intake.secret, body, x_hub_signature_256):
        return _problem(401, "missing or invalid X-Hub-Signature-256")
    event = x_github_event or ""
    if not event or not x_github_delivery or len(x_github_delivery) > 64 or len(event) > 64:
        return _problem(400, "X-GitHub-Event and X-GitHub-Delivery headers are required")
    try:
        payload = _parse(body, request.headers.get("content-type", "application/json"))
        text = body.decode("utf-8")
    except (ValueError, KeyError, UnicodeDecodeError, RecursionError) as error:
        return _problem(400, f"body is not a JSON object: {error}", event)
    installation = payload.get("installation")
    repository = payload.get("repository")
    action = payload.get("action")
    incoming = IncomingDelivery(
        delivery_id=x_github_delivery,
        event=event,
        action=action if isinstance(action, str) else None,
        installation_id=_int_or_none(installation.get("id"))
        if isinstance(installation, dict)
        else None,
        repository=_str_or_none(repository.get("full_name"))
        if isinstance(repository, dict)
        else None,
        payload=text,
    )
    # deciding "ignored" here is routing, not work: it spares the worker a job per delivery
    handled = (
        incoming.installation_id is not None and handler_for(event, incoming.action) is not None
    )
    stored = await run_in_threadpool(
        record_delivery, intake.db, incoming, intake.max_attempts, handled
    )
    if stored is None:
        metrics.DELIVERIES.labels(event=event, outcome="duplicate").inc()
        return JSONResponse({"delivery": x_github_delivery, "duplicate": True}, status_code=202)
    metrics.DELIVERIES.labels(event=event, outcome="accepted" if handled else "ignored").inc()
    if handled:
        intake.wake()
    return JSONResponse({"delivery": x_github_delivery, "duplicate": False}, status_code=202)


def _int_or_none(value: Any) -> int | None:
    # GitHub's ids fit a signed 64-bit column; anything else is not an id we can store
    is_int = isinstance(value, int) and not isinstance(value, bool)
    return value if is_int and 0 < value < 2**63 else None


def _str_or_none(value: Any) -> str | None:
    return value[:256] if isinstance(value, str) else None
