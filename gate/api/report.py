"""GET /api/v1/report: the autonomy report of a repository as JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from gate.api.auth import CallerDep
from gate.api.errors import unprocessable
from gate.api.params import query_repository, query_time
from gate.reports.autonomy.report import autonomy_report
from gate.reports.inputs import ReportError

router = APIRouter(tags=["report"])

# one row a week and every assessment of the span are read: a year is what a review needs
MAX_SPAN = timedelta(days=366)


@router.get("/api/v1/report")
async def get_report(
    request: Request,
    caller: CallerDep,
    repo: Annotated[str, Query(description="OWNER/NAME")],
    since: Annotated[str, Query(description="ISO date or datetime; UTC if no zone")],
    until: Annotated[
        str | None, Query(description=f"exclusive end, at most {MAX_SPAN.days} days after since")
    ] = None,
) -> dict[str, Any]:
    """The report of one repository, with its token (or the Actions OIDC token of one of its
    jobs), or with an admin token (`gate token create --admin`) for any repository."""
    repo = query_repository(repo)
    start = query_time(since, "since")
    end = None if until is None else query_time(until, "until")
    caller.require_read(repo)
    if (end or datetime.now(UTC)) - start > MAX_SPAN:
        raise unprocessable(
            f"a report spans at most {MAX_SPAN.days} days: ask for since..until in pieces",
            "query",
            "since" if until is None else "until",
        )
    try:
        report = await run_in_threadpool(
            autonomy_report, request.app.state.services.db, repo, start, end
        )
    except ReportError as error:  # until not after since
        raise unprocessable(str(error), "query", "until") from None
    return report.to_json()
