"""Who is calling the gate API: a repository's API token (GitHub Actions OIDC comes next)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from gate.store.tokens import repository_for


async def token_repository(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(
            401,
            "send Authorization: Bearer <riskgate API token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    repository = await run_in_threadpool(repository_for, request.app.state.services.db, token)
    if repository is None:
        raise HTTPException(
            401, "unknown or revoked API token", headers={"WWW-Authenticate": "Bearer"}
        )
    return repository


TokenRepository = Annotated[str, Depends(token_repository)]
