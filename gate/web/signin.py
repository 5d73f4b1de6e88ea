"""Signing in with GitHub (the App's OAuth web flow, `state` checked) and signing out."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

import httpx
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from gate.web.auth import ViewerDep, people, require_csrf, safe_next, sessions
from gate.web.people import SignInError
from gate.web.render import page
from gate.web.session import STATE_COOKIE

router = APIRouter(tags=["console"], include_in_schema=False)


def _callback_url(request: Request) -> str:
    base = str(request.app.state.services.settings.public_url).rstrip("/")
    return f"{base}/login/callback"


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return page(request, "login.html", None, next=safe_next(next), error=None)


@router.get("/login/github")
async def login_github(request: Request, next: str | None = None) -> Response:
    settings = request.app.state.services.settings
    if not settings.github_client_id or not settings.github_client_secret:
        error = "Sign-in is not configured: GATE_GITHUB_CLIENT_ID and GATE_GITHUB_CLIENT_SECRET."
        return page(request, "login.html", None, 503, next="/", error=error)
    state = secrets.token_urlsafe(24)
    response = RedirectResponse(
        people(request).authorize_url(state, _callback_url(request)), status_code=303
    )
    sessions(request).begin_sign_in(response, state, safe_next(next))
    return response


@router.get("/login/callback")
async def login_callback(
    request: Request,
    code: Annotated[str | None, Query(max_length=512)] = None,
    state: Annotated[str | None, Query(max_length=512)] = None,
    error: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    expected = sessions(request).sign_in_state(request)
    if (
        expected is None
        or state is None
        or not hmac.compare_digest(expected.get("state", "").encode(), state.encode())
    ):
        return _refused(request, "The sign-in could not be verified (its state did not match).")
    if error is not None or code is None:
        return _refused(request, f"GitHub did not sign you in: {error or 'no code'}.")
    github = people(request)
    try:
        token = await run_in_threadpool(github.exchange, code, _callback_url(request))
        login = await run_in_threadpool(github.login, token)
    except SignInError as refused:
        return _refused(request, str(refused))
    except httpx.HTTPError:
        return _refused(request, "GitHub did not answer the sign-in; try again in a minute.")
    response = RedirectResponse(safe_next(expected.get("next")), status_code=303)
    response.delete_cookie(STATE_COOKIE, path="/")
    sessions(request).start(response, login, token)
    return response


def _refused(request: Request, message: str) -> Response:
    response = page(request, "login.html", None, 400, next="/", error=message)
    response.delete_cookie(STATE_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(
    request: Request, viewer: ViewerDep, csrf: Annotated[str | None, Form()] = None
) -> Response:
    require_csrf(viewer, csrf)
    people(request).forget(viewer.session.token)
    response = RedirectResponse("/login", status_code=303)
    sessions(request).end(response)
    return response
