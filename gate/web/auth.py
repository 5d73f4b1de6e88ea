"""Who is looking: the signed-in person and what GitHub says they may read, or a redirect."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

import httpx
from fastapi import Depends, HTTPException, Path, Request
from starlette.concurrency import run_in_threadpool

from gate.web.people import GitHubPeople, Readable, SignInError
from gate.web.session import Session, Sessions


class SignInRequired(Exception):
    """Raised by a page a stranger asked for; the app answers with a redirect to sign in."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


@dataclass(frozen=True)
class Viewer:
    session: Session
    readable: Readable

    @property
    def login(self) -> str:
        return self.session.login

    def may_read(self, repository: str) -> bool:
        return repository in self.readable


def sessions(request: Request) -> Sessions:
    return request.app.state.console_sessions  # type: ignore[no-any-return]


def people(request: Request) -> GitHubPeople:
    return request.app.state.console_people  # type: ignore[no-any-return]


def _here(request: Request) -> str:
    path = request.url.path
    return path + (f"?{request.url.query}" if request.url.query else "")


async def optional_viewer(request: Request) -> Viewer | None:
    session = sessions(request).read(request)
    if session is None:
        return None
    try:
        readable = await run_in_threadpool(people(request).readable, session.token)
    except SignInError:  # the token was revoked on GitHub: sign in again
        return None
    except httpx.HTTPError as error:  # what a person may read cannot be guessed: show nothing
        raise HTTPException(503, "GitHub did not answer; try again in a minute") from error
    return Viewer(session, readable)


async def viewer(
    request: Request, found: Annotated[Viewer | None, Depends(optional_viewer)]
) -> Viewer:
    if found is None:
        raise SignInRequired(_here(request))
    return found


ViewerDep = Annotated[Viewer, Depends(viewer)]
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def sign_in_location(next_path: str) -> str:
    return f"/login?next={quote(next_path, safe='')}"


def require_csrf(found: Viewer, sent: str | None) -> None:
    """Every form carries the session's token: a page elsewhere cannot post as this person."""
    if not found.session.csrf_ok(sent):
        raise HTTPException(403, "this form is stale or was not sent from the console")


def safe_next(value: str | None) -> str:
    """Only a path on this site: `next` must not send a person elsewhere after sign-in."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value
