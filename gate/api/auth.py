"""Who is calling the gate API: a GitHub Actions OIDC token, or a repository's API token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from gate.api.oidc import OIDCError
from gate.store.tokens import PREFIX, token_owner


@dataclass(frozen=True)
class Caller:
    repository: str
    actor: str | None  # the GitHub login an API token acts for; None for OIDC tokens
    via: str  # "oidc" | "token"

    def require(self, repository: str) -> None:
        if repository != self.repository:
            raise HTTPException(403, f"this credential is for {self.repository}, not {repository}")


def _unauthorised(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


async def caller(request: Request, authorization: Annotated[str | None, Header()] = None) -> Caller:
    scheme, _, credential = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not credential:
        raise _unauthorised("send Authorization: Bearer <Actions OIDC token or riskgate API token>")
    db = request.app.state.services.db
    if credential.startswith(PREFIX):
        owner = await run_in_threadpool(token_owner, db, credential)
        if owner is None:
            raise _unauthorised("unknown or revoked API token")
        return Caller(owner[0], owner[1], "token")
    try:
        identity = await run_in_threadpool(request.app.state.oidc.verify, credential)
    except OIDCError as error:
        raise _unauthorised(f"OIDC token refused: {error}") from None
    return Caller(identity.repository, None, "oidc")


async def token_repository(caller_: Annotated[Caller, Depends(caller)]) -> str:
    return caller_.repository


CallerDep = Annotated[Caller, Depends(caller)]
TokenRepository = Annotated[str, Depends(token_repository)]
