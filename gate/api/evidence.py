"""GET /evidence/{watch}/{token}.png: an incident's plot, for the issue that links it.

GitHub shows issue images through its own proxy, which sends no credentials, so the link
carries a random token instead; without the right token the plot does not exist.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from gate.api.params import RowId
from gate.store import watches

router = APIRouter(tags=["watches"])


@router.get(
    "/evidence/{watch_id}/{token}.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, 404: {"description": "no such plot"}},
)
async def evidence_plot(request: Request, watch_id: RowId, token: str) -> Response:
    watch = await run_in_threadpool(watches.get, request.app.state.services.db, watch_id)
    if (
        watch is None
        or not watch.evidence_token
        or watch.evidence_png is None
        or not secrets.compare_digest(watch.evidence_token.encode(), token.encode())
    ):
        raise HTTPException(404, "no such plot")
    return Response(
        watch.evidence_png,
        media_type="image/png",
        headers={"Cache-Control": "private, max-age=3600"},
    )
