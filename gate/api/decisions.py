"""GET /api/v1/decisions: a repository's audit trail as JSON, oldest first, paged."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from gate.api.auth import CallerDep
from gate.api.errors import unprocessable
from gate.api.params import query_repository, query_time
from gate.store import queries
from gate.store.tables import AuditEntry

router = APIRouter(tags=["decisions"])
SHA_PREFIX = re.compile(r"^[0-9a-f]{4,64}$")
MAX_LIMIT = 500


def _view(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "reason": entry.reason,
        "sha": entry.sha,
        "subject": entry.subject,
        "assessment_id": entry.assessment_id,
        "policy_version": entry.policy_version,
        "model_version": entry.model_version,
        "details": entry.details,
    }


@router.get("/api/v1/decisions")
async def list_decisions(
    request: Request,
    caller: CallerDep,
    repo: Annotated[str, Query(description="OWNER/NAME")],
    sha: Annotated[str | None, Query(description="a commit SHA or its prefix (4+ hex)")] = None,
    since: Annotated[str | None, Query(description="ISO date or datetime; UTC if no zone")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> dict[str, Any]:
    """One repository's trail, with its token (or the Actions OIDC token of one of its jobs),
    or with an admin token (`gate token create --admin`) for any repository."""
    repo = query_repository(repo)
    start = None if since is None else query_time(since, "since")
    if sha is not None and not SHA_PREFIX.match(sha.lower()):
        raise unprocessable(f"sha is not a hex commit SHA or prefix: {sha!r}", "query", "sha")
    caller.require_read(repo)
    rows = await run_in_threadpool(
        queries.decisions,
        request.app.state.services.db,
        repo,
        sha=None if sha is None else sha.lower(),
        since=start,
        limit=limit + 1,  # one more tells whether there is a next page
        offset=offset,
    )
    more = len(rows) > limit
    return {
        "items": [_view(row) for row in rows[:limit]],
        "next_offset": offset + limit if more else None,
    }
