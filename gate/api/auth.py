"""Who is calling the gate API: a GitHub Actions OIDC token, or a riskgate API token.

A credential belongs to one repository and acts on it and reads it alone; an admin API token
(`gate token create --admin`) reads every repository and acts on none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from gate.api.oidc import JWKSUnavailable, OIDCError
from gate.store.tokens import ADMIN_SCOPE, PREFIX, token_owner


@dataclass(frozen=True)
class Caller:
    repository: str  # ADMIN_SCOPE for an admin token
    actor: str | None  # the GitHub login an API token acts for; None for OIDC tokens
    via: str  # "oidc" | "token"

    @property
    def is_admin(self) -> bool:
        return self.repository == ADMIN_SCOPE

    def require(self, repository: str) -> None:
        """Refuse (403) unless this credential may act on `repository`."""
        if self.is_admin:
            raise HTTPException(
                403, "an admin token reads every repository but acts on none: use its own token"
            )
        if repository != self.repository:
            raise HTTPException(403, f"this credential is for {self.repository}, not {repository}")

    def may_read(self, repository: str) -> bool:
        return self.is_admin or repository == self.repository

    def require_read(self, repository: str) -> None:
        """Refuse (403) unless this credential may read `repository`'s rows."""
        if not self.may_read(repository):
            raise HTTPException(403, f"this credential is for {self.repository}, not {repository}")


def _unauthorised(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


# declares the bearer scheme in the OpenAPI description, on every endpoint that needs a caller;
# auto_error off: a missing or non-bearer header gets our own 401 with what to send
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="a GitHub Actions OIDC token (audience riskgate) or a riskgate API token "
    "(`gate token create`)",
)


async def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None,
) -> Caller:
    credential = credentials.credentials if credentials else ""
    if not credential:
        raise _unauthorised("send Authorization: Bearer <Actions OIDC token or riskgate API token>")
    db = request.app.state.services.db
    if credential.startswith(PREFIX):
        owner = await run_in_threadpool(token_owner, db, credential)
        if owner is None:
            raise _unauthorised("unknown or revoked API token")
        return Caller(owner[0], owner[1], "token")
    try:
        identity = await request.app.state.oidc.verify(credential)
    except OIDCError as error:
        raise _unauthorised(f"OIDC token refused: {error}") from None
    except JWKSUnavailable as error:
        # the token may be fine: say when to try again rather than refusing it
        raise HTTPException(
            503,
            "cannot check OIDC tokens now: the issuer's keys are unreachable",
            headers={"Retry-After": str(error.retry_after)},
        ) from None
    return Caller(identity.repository, None, "oidc")


CallerDep = Annotated[Caller, Depends(caller)]
