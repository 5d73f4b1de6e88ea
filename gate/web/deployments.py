"""A deployment's page: change set, the protection rule's answer, the watch and its plot."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from gate.deploys.evidence_plot import evidence_png
from gate.deploys.rollback import active_freezes
from gate.store import assessments, console
from gate.store import deployments as store
from gate.store.tables import Deployment, Watch
from gate.web import actions
from gate.web.auth import RowId, Viewer, ViewerDep, require_csrf, sessions
from gate.web.pages import approvers
from gate.web.render import page

router = APIRouter(tags=["console"], include_in_schema=False)


def _deployment(request: Request, viewer: Viewer, deployment_id: int) -> Deployment:
    row = store.get(request.app.state.services.db, deployment_id)
    if row is None or not viewer.may_read(row.repository):
        raise HTTPException(404, f"no deployment {deployment_id}")
    return row


def _watch(request: Request, deployment_id: int) -> Watch | None:
    with request.app.state.services.db.session() as session:
        return session.scalars(select(Watch).where(Watch.deployment_id == deployment_id)).first()


@router.get("/deployments/{deployment_id}", response_class=HTMLResponse)
def deployment_page(request: Request, viewer: ViewerDep, deployment_id: RowId) -> HTMLResponse:
    services = request.app.state.services
    row = _deployment(request, viewer, deployment_id)
    assessment = assessments.get(services.db, row.assessment_id) if row.assessment_id else None
    watch = _watch(request, deployment_id)
    freezes = active_freezes(services.db, row.repository, row.environment)
    chooser = approvers(request)
    may = chooser.may_approve(viewer, row.repository)
    return page(
        request,
        "deployment.html",
        viewer,
        d=row,
        a=assessment,
        changes=console.change_set(services.db, row),
        watch=watch,
        has_plot=watch is not None and (watch.evidence_png is not None or bool(watch.evidence)),
        freezes=freezes,
        may_approve=may,
        held=row.state == "held",
    )


@router.get("/deployments/{deployment_id}/watch.png")
def watch_plot(request: Request, viewer: ViewerDep, deployment_id: RowId) -> Response:
    _deployment(request, viewer, deployment_id)
    watch = _watch(request, deployment_id)
    if watch is None:
        raise HTTPException(404, "this deployment has no watch")
    png = watch.evidence_png
    if png is None and watch.evidence:  # a watch still running: its picture so far
        png = evidence_png(watch.evidence, watch.verdict or {})
    if png is None:
        raise HTTPException(404, "the watch has no measurements yet")
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, no-store"})


@router.post("/deployments/{deployment_id}/unfreeze")
def unfreeze(
    request: Request,
    viewer: ViewerDep,
    deployment_id: RowId,
    reason: Annotated[str, Form(min_length=1, max_length=1000)],
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    require_csrf(viewer, csrf)
    row = _deployment(request, viewer, deployment_id)
    lifted = actions.unfreeze(approvers(request), viewer, row.repository, row.environment, reason)
    response = RedirectResponse(f"/deployments/{deployment_id}", 303)
    sessions(request).tell(response, f"Lifted {lifted} freeze(s) of {row.environment}.")
    return response
