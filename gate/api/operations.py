"""/healthz and /metrics, for load balancers and Prometheus."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    services = request.app.state.services
    checks: dict[str, str] = {"model": services.model.version}
    healthy = True
    try:
        await run_in_threadpool(_ping, services.db)
        checks["database"] = "ok"
    except Exception as error:
        checks["database"] = f"unreachable: {error.__class__.__name__}"
        healthy = False
    return JSONResponse({"ok": healthy, **checks}, status_code=200 if healthy else 503)


def _ping(db: object) -> None:
    with db.session() as session:  # type: ignore[attr-defined]
        session.execute(text("SELECT 1"))


@router.get("/metrics")
async def prometheus_metrics() -> Response:
    body = await run_in_threadpool(generate_latest)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
