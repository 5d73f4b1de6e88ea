"""Verifying GitHub Actions OIDC tokens: RS256, the issuer's keys, audience, expiry, repository."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt

from gate.api.jwks import JWKSCache, JWKSFile, JWKSUnavailable

__all__ = ["ActionsIdentity", "JWKSUnavailable", "OIDCError", "OIDCVerifier"]

LEEWAY_SECONDS = 30


class OIDCError(ValueError):
    """The token is not one riskgate accepts; the message says why."""


@dataclass(frozen=True)
class ActionsIdentity:
    repository: str
    actor: str | None
    workflow_ref: str | None
    run_id: str | None


class OIDCVerifier:
    """Keys come from a JWKS file or the issuer's JWKS URL (see gate.api.jwks for the caching)."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        jwks_url: str | None = None,
        jwks_path: Path | None = None,
        *,
        fetch_timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.jwks_url = jwks_url or f"{self.issuer}/.well-known/jwks"
        self.keys: JWKSCache | JWKSFile = (
            JWKSFile(jwks_path)
            if jwks_path is not None
            else JWKSCache(self.jwks_url, fetch_timeout, transport=transport)
        )

    async def verify(self, token: str) -> ActionsIdentity:
        """The token's identity, or OIDCError; JWKSUnavailable when the keys cannot be had.

        Runs on the event loop: a signature check takes well under a millisecond, and a key
        fetch is awaited, so no thread waits on the issuer."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise OIDCError(f"malformed token: {error}") from None
        if header.get("alg") != "RS256":
            raise OIDCError(f"algorithm {header.get('alg')!r} refused: only RS256")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > 256:
            raise OIDCError("the token names no key id (kid)")
        key = await self.keys.key(kid)
        if key is None:
            raise OIDCError("signed with a key the issuer does not publish")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "repository"]},
            )
        except jwt.ExpiredSignatureError:
            raise OIDCError("token expired") from None
        except jwt.InvalidAudienceError:
            raise OIDCError(f"token is for another audience (expected {self.audience!r})") from None
        except jwt.InvalidIssuerError:
            raise OIDCError(f"token from another issuer (expected {self.issuer!r})") from None
        except jwt.PyJWTError as error:
            raise OIDCError(f"token refused: {error}") from None
        return ActionsIdentity(
            repository=str(claims["repository"]),
            actor=claims.get("actor"),
            workflow_ref=claims.get("workflow_ref"),
            run_id=claims.get("run_id"),
        )
