"""GET /api/v1/report: the autonomy report of a repository as JSON."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from gate.report import ReportError, autonomy_report, parse_when

router = APIRouter(tags=["report"])


@router.get("/api/v1/report")
async def get_report(
    request: Request,
    repo: Annotated[str, Query(description="OWNER/NAME")],
    since: Annotated[str, Query(description="ISO date or datetime; UTC if no zone")],
    until: Annotated[str | None, Query(description="exclusive end; default now")] = None,
) -> dict[str, Any]:
    try:
        start = parse_when(since, "since")
        end = None if until is None else parse_when(until, "until")
        report = await run_in_threadpool(
            autonomy_report, request.app.state.services.db, repo, start, end
        )
    except ReportError as error:
        raise HTTPException(422, str(error)) from None
    return report.to_json()
