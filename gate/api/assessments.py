"""Assessments as JSON (/api/v1/assessments/{id}); the page for people is in gate.web."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from gate.api.auth import CallerDep
from gate.api.params import RowId
from gate.store import assessments
from gate.store.tables import Assessment

router = APIRouter(tags=["assessments"])


def _view(row: Assessment) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "repository": row.repository,
        "pr_number": row.pr_number,
        "base_sha": row.base_sha,
        "head_sha": row.head_sha,
        "score": row.score,
        "level": row.level,
        "decision": row.decision,
        "rank": row.rank,
        "reasons": row.reasons,
        "features": row.features,
        "notes": row.notes,
        "model_version": row.model_version,
        "resolution": row.resolution,
        "mode": row.mode,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


async def _get(request: Request, assessment_id: int) -> Assessment:
    row = await run_in_threadpool(assessments.get, request.app.state.services.db, assessment_id)
    if row is None:
        raise _not_found(assessment_id)
    return row


def _not_found(assessment_id: int) -> HTTPException:
    return HTTPException(404, f"no assessment {assessment_id}")


@router.get("/api/v1/assessments/{assessment_id}")
async def get_assessment(
    request: Request, caller: CallerDep, assessment_id: RowId
) -> dict[str, Any]:
    """An assessment of the credential's repository (any repository's, with an admin token)."""
    row = await _get(request, assessment_id)
    if not caller.may_read(row.repository):
        raise _not_found(assessment_id)  # another repository's ids are not even confirmed
    return _view(row)
