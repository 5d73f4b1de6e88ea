"""Rendering the console's pages: Jinja2 templates with a few filters for times and scores."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from gate.web.auth import Viewer
from gate.web.session import NOTICE_COOKIE

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))


def age(when: datetime | None, now: datetime | None = None) -> str:
    """ "3 h 5 min" style: how long ago (or, for a future time, how long until)."""
    if when is None:
        return "-"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = abs(((now or datetime.now(UTC)) - when).total_seconds())
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def score(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def stamp(when: datetime | None) -> str:
    return "-" if when is None else when.strftime("%Y-%m-%d %H:%M UTC")


TEMPLATES.env.filters.update(age=age, score=score, stamp=stamp)


def page(
    request: Request, name: str, viewer: Viewer | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    sessions = request.app.state.console_sessions
    notice = sessions.told(request)
    response = TEMPLATES.TemplateResponse(
        request,
        name,
        {
            "viewer": viewer,
            "csrf": viewer.session.csrf if viewer else "",
            "notice": notice,
            **context,
        },
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )
    if notice is not None:
        response.delete_cookie(NOTICE_COOKIE, path="/")
    return response
