"""The console's reading pages: Waiting, an assessment, a repository; and the vote form's target."""

from __future__ import annotations

import hmac
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from gate.store import assessments, audit, console
from gate.store import deployments as deployment_store
from gate.store.console import LEVELS, STATES, Filters
from gate.store.tables import Assessment
from gate.web import actions
from gate.web.auth import (
    RowId,
    SignInRequired,
    Viewer,
    ViewerDep,
    optional_viewer,
    require_csrf,
    safe_next,
    sessions,
)
from gate.web.render import page
from gate.web.reports import trend_png

router = APIRouter(tags=["console"], include_in_schema=False)
PAGE_SIZE = 50

LevelQuery = Annotated[Literal["low", "medium", "high"] | None, Query()]
RepoQuery = Annotated[str | None, Query(max_length=256)]


def approvers(request: Request) -> actions.Approvers:
    return request.app.state.console_approvers  # type: ignore[no-any-return]


def _link(path: str, **query: object) -> str:
    kept = {k: v for k, v in query.items() if v not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


@router.get("/", response_class=HTMLResponse)
def waiting_page(
    request: Request,
    viewer: ViewerDep,
    repo: RepoQuery = None,
    level: LevelQuery = None,
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    services = request.app.state.services
    filters = Filters(repository=repo, level=level)
    rows = console.waiting(
        services.db,
        viewer.readable.repositories,
        filters,
        PAGE_SIZE + 1,
        (page_number - 1) * PAGE_SIZE,
    )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    chooser = approvers(request)
    repositories = sorted({a.repository for a, _ in rows})
    allowed = {name: chooser.may_approve(viewer, name) for name in repositories}
    who = {name: chooser.who(name) for name in repositories}
    by_score = sorted((a.score or 0 for a, _ in rows), reverse=True)
    items = [
        {
            "a": a,
            "d": d,
            "rank": by_score.index(a.score or 0) + 1,
            "since": a.held_at or a.created_at,
            "expires": d.expires_at if d is not None else None,
            "may_approve": allowed[a.repository],
            "who": who[a.repository],
        }
        for a, d in rows
    ]
    return page(
        request,
        "waiting.html",
        viewer,
        items=items,
        repositories=sorted(viewer.readable.repositories),
        levels=LEVELS,
        filters=filters,
        previous=_link("/", repo=repo, level=level, page=page_number - 1)
        if page_number > 1
        else None,
        next=_link("/", repo=repo, level=level, page=page_number + 1) if more else None,
    )


@router.post("/assessments/{assessment_id}/vote")
def vote(
    request: Request,
    viewer: ViewerDep,
    assessment_id: RowId,
    verdict: Annotated[Literal["approve", "reject"], Form()],
    reason: Annotated[str, Form(min_length=1, max_length=1000)],
    csrf: Annotated[str | None, Form()] = None,
    back: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    require_csrf(viewer, csrf)
    if not reason.strip():
        raise HTTPException(422, "a vote needs a reason")
    outcome = actions.vote(approvers(request), viewer, assessment_id, verdict, reason.strip())
    if not outcome.accepted and "only approvers" in outcome.message:
        raise HTTPException(403, outcome.message)
    response = RedirectResponse(safe_next(back), 303)
    sessions(request).tell(response, outcome.message)
    return response


@router.get("/assessments/{assessment_id}", response_class=HTMLResponse)
def assessment_page(request: Request, viewer: ViewerDep, assessment_id: RowId) -> HTMLResponse:
    services = request.app.state.services
    row = actions.readable_assessment(services, viewer, assessment_id)
    return _assessment(request, viewer, row)


@router.get("/assessments/{assessment_id}/{token}", response_class=HTMLResponse)
def assessment_by_link(
    request: Request,
    assessment_id: RowId,
    token: Annotated[str, Path(max_length=128)],
    viewer: Annotated[Viewer | None, Depends(optional_viewer)],
) -> HTMLResponse:
    """The check run's details link: its token opens the page without sign-in (where the store
    keeps details tokens); a signed-in reader of the repository needs none."""
    services = request.app.state.services
    row = assessments.get(services.db, assessment_id)
    if row is None:
        raise HTTPException(404, f"no assessment {assessment_id}")
    if viewer is not None and viewer.may_read(row.repository):
        return _assessment(request, viewer, row)
    expected = getattr(row, "details_token", None)  # a column of the details-token migration
    if not expected or not hmac.compare_digest(str(expected).encode(), token.encode()):
        if viewer is None:
            raise SignInRequired(request.url.path)
        raise HTTPException(404, f"no assessment {assessment_id}")
    return _assessment(request, None, row)


def _assessment(request: Request, viewer: Viewer | None, row: Assessment) -> HTMLResponse:
    services = request.app.state.services
    trail = audit.entries(services.db, None, None, row.id)
    fired = [e for e in trail if e.action in ("assessment.decided", "policy.error")]
    deployment = deployment_store.by_assessment(services.db, row.id)
    held = row.decision == "hold" and row.resolution is None
    chooser = approvers(request)
    may = viewer is not None and held and chooser.may_approve(viewer, row.repository)
    coverage = {k: v for k, v in row.features.items() if "cover" in k}
    return page(
        request,
        "assessment.html",
        viewer,
        a=row,
        trail=trail,
        fired=fired,
        deployment=deployment,
        coverage=coverage,
        held=held,
        may_approve=may,
        who=chooser.who(row.repository) if held else "",
    )


@router.get("/repos/{owner}/{name}", response_class=HTMLResponse)
async def repository_page(
    request: Request,
    viewer: ViewerDep,
    owner: str,
    name: str,
    level: LevelQuery = None,
    state: Annotated[Literal[STATES] | None, Query()] = None,  # type: ignore[valid-type]
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    full_name = f"{owner}/{name}"
    if not viewer.may_read(full_name):
        raise HTTPException(404, "not found")
    services = request.app.state.services
    filters = Filters(repository=full_name, level=level, state=state)
    rows = await run_in_threadpool(
        console.recent,
        services.db,
        [full_name],
        filters,
        PAGE_SIZE + 1,
        (page_number - 1) * PAGE_SIZE,
    )
    counts = await run_in_threadpool(console.decision_counts, services.db, full_name)
    report = await run_in_threadpool(request.app.state.console_reports.get, full_name)
    recent_deploys = await run_in_threadpool(console.deployments_of, services.db, full_name)
    total = sum(counts.values())
    shares = {
        decision: (counts.get(decision, 0), counts.get(decision, 0) / total if total else 0.0)
        for decision in ("pass", "review", "hold")
    }
    more = len(rows) > PAGE_SIZE
    base = f"/repos/{full_name}"
    return page(
        request,
        "repository.html",
        viewer,
        repository=full_name,
        rows=rows[:PAGE_SIZE],
        shares=shares,
        total=total,
        report=report.to_json(),
        deployments=recent_deploys,
        levels=LEVELS,
        states=STATES,
        filters=filters,
        previous=_link(base, level=level, state=state, page=page_number - 1)
        if page_number > 1
        else None,
        next=_link(base, level=level, state=state, page=page_number + 1) if more else None,
    )


@router.get("/repos/{owner}/{name}/trend.png")
def trend_plot(request: Request, viewer: ViewerDep, owner: str, name: str) -> Response:
    full_name = f"{owner}/{name}"
    if not viewer.may_read(full_name):
        raise HTTPException(404, "not found")
    report = request.app.state.console_reports.get(full_name)
    return Response(
        trend_png(report), media_type="image/png", headers={"Cache-Control": "private, no-store"}
    )
