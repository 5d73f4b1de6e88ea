"""POST /webhooks/github: verify the signature, store the delivery, answer 202. Nothing else."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from gate import metrics
from gate.store.deliveries import IncomingDelivery, record_delivery
from gate.webhooks import handler_for

# GitHub caps payloads at 25 MB; anything larger is not from GitHub
MAX_BODY_BYTES = 25 * 1024 * 1024
FORM = "application/x-www-form-urlencoded"
# GitHub's event names and delivery GUIDs: printable ASCII, no spaces
_HEADER_VALUE = re.compile(r"[!-~]{1,64}")

router = APIRouter()


def signature_is_valid(secret: bytes, body: bytes | bytearray, header: str | None) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest().encode()
    # Starlette decodes header bytes as latin-1, so this gives back the bytes that were sent:
    # compared as bytes, a non-ASCII byte is a mismatch, not a TypeError
    return hmac.compare_digest(expected, header.removeprefix("sha256=").encode("latin-1"))


def _problem(
    status: int, detail: str, event: str = "unknown", outcome: str = "rejected"
) -> JSONResponse:
    metrics.DELIVERIES.labels(event=event, outcome=outcome).inc()
    return JSONResponse({"detail": detail}, status_code=status)


async def _read_limited(request: Request, limit: int) -> bytearray | None:
    """The body, or None as soon as it passes `limit` bytes: a chunked body is counted as it
    streams, so a huge one costs no more memory than the limit."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return body


def _parse(body: bytes | bytearray, content_type: str) -> tuple[dict[str, Any], str]:
    """The payload and its JSON text (what is stored; for a form, the `payload` field)."""
    if content_type.split(";")[0].strip().lower() == FORM:
        # Apps can be set to send form-encoded deliveries: payload=<url-encoded JSON>
        fields = parse_qs(body.decode("ascii"), strict_parsing=True, errors="strict")
        if list(fields) != ["payload"] or len(fields["payload"]) != 1:
            raise ValueError("a form-encoded delivery has one field, payload")
        text = fields["payload"][0]
    else:
        text = body.decode("utf-8")
    payload = json.loads(text)
    if not isinstance(payload, dict):
        raise ValueError("the payload is not a JSON object")
    return payload, text


@router.post("/webhooks/github", status_code=202, tags=["webhooks"])
async def receive_delivery(request: Request) -> JSONResponse:
    intake = request.app.state.intake
    x_github_event = request.headers.get("x-github-event")
    x_github_delivery = request.headers.get("x-github-delivery")
    body = await _read_limited(request, MAX_BODY_BYTES)
    if body is None:
        return _problem(413, f"payload over {MAX_BODY_BYTES:,} bytes")
    if not signature_is_valid(intake.secret, body, request.headers.get("x-hub-signature-256")):
        return _problem(401, "missing or invalid X-Hub-Signature-256")
    if not all(
        _HEADER_VALUE.fullmatch(value or "") for value in (x_github_event, x_github_delivery)
    ):
        return _problem(
            400, "X-GitHub-Event and X-GitHub-Delivery are required: up to 64 printable ASCII"
        )
    event, delivery_id = str(x_github_event), str(x_github_delivery)
    try:
        payload, text = _parse(body, request.headers.get("content-type", "application/json"))
    except (ValueError, KeyError, UnicodeDecodeError, RecursionError) as error:
        return _problem(400, f"body is not a JSON object: {error}", event)
    del body
    installation = payload.get("installation")
    repository = payload.get("repository")
    action = payload.get("action")
    incoming = IncomingDelivery(
        delivery_id=delivery_id,
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
    problems = incoming.problems()
    if problems:
        return _problem(400, "delivery refused: " + "; ".join(problems), event)
    # deciding "ignored" here is routing, not work: it spares the worker a job per delivery
    handled = (
        incoming.installation_id is not None and handler_for(event, incoming.action) is not None
    )
    stored = await run_in_threadpool(
        record_delivery, intake.db, incoming, intake.max_attempts, handled
    )
    if stored is None:
        metrics.DELIVERIES.labels(event=event, outcome="duplicate").inc()
        return JSONResponse({"delivery": delivery_id, "duplicate": True}, status_code=202)
    metrics.DELIVERIES.labels(event=event, outcome="accepted" if handled else "ignored").inc()
    if handled:
        intake.wake()
    return JSONResponse({"delivery": delivery_id, "duplicate": False}, status_code=202)


def _int_or_none(value: Any) -> int | None:
    # GitHub's ids fit a signed 64-bit column; anything else is not an id we can store
    is_int = isinstance(value, int) and not isinstance(value, bool)
    return value if is_int and 0 < value < 2**63 else None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
