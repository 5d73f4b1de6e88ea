"""Assessments as JSON (/api/v1/assessments/{id}) and as a page (/assessments/{id}/{token}).

Until the console puts pages behind sign-in, a page opens only with its link's random token:
ids count up from 1, and anyone could read every repository's assessments by counting.
"""

from __future__ import annotations

import hmac
from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from gate.api.auth import CallerDep
from gate.api.params import RowId
from gate.store import assessments, audit
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


def _row(*cells: str, tag: str = "td") -> str:
    return "<tr>" + "".join(f"<{tag}>{escape(cell)}</{tag}>" for cell in cells) + "</tr>"


@router.get("/assessments/{assessment_id}", response_class=HTMLResponse)
async def assessment_page_without_token(assessment_id: RowId) -> HTMLResponse:
    """A details page needs its link's token: the id alone is not even confirmed."""
    raise _not_found(assessment_id)


@router.get("/assessments/{assessment_id}/{token}", response_class=HTMLResponse)
async def assessment_page(
    request: Request, assessment_id: RowId, token: Annotated[str, Path(max_length=128)]
) -> HTMLResponse:
    row = await run_in_threadpool(assessments.get, request.app.state.services.db, assessment_id)
    # compared as bytes in constant time: a str with non-ASCII characters would raise
    if row is None or not hmac.compare_digest(row.details_token.encode(), token.encode()):
        raise _not_found(assessment_id)
    db = request.app.state.services.db
    trail = await run_in_threadpool(audit.entries, db, None, None, row.id)
    title = f"{row.repository}#{row.pr_number}" if row.pr_number else row.repository
    score = "pending" if row.score is None else f"{row.level} ({row.score:.2f}) -> {row.decision}"
    reasons = "".join(f"<li>{escape(r['text'])}</li>" for r in row.reasons) or "<li>none</li>"
    rank = f"<p>This change is {escape(row.rank)}.</p>" if row.rank else ""
    features = "".join(
        _row(name, "missing" if value is None else f"{value:g}")
        for name, value in row.features.items()
    )
    events = "".join(_row(f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor, e.action, e.reason) for e in trail)
    return HTMLResponse(
        f"""<!doctype html><html><head><meta charset="utf-8">
<title>riskgate: {escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3rem .6rem}}</style></head>
<body><h1>{escape(title)}</h1><p>Commit <code>{escape(row.head_sha)}</code> against
<code>{escape(row.base_sha)}</code>. Risk: <strong>{escape(score)}</strong>.
Model <code>{escape(row.model_version or "-")}</code>.</p>{rank}
<h2>What raised the risk</h2><ul>{reasons}</ul>
<h2>Features</h2><table>{_row("feature", "value", tag="th")}{features}</table>
<h2>Audit trail</h2><table>{_row("time (UTC)", "actor", "action", "reason", tag="th")}
{events}</table></body></html>"""
    )
