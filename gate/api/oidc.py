"""Verifying GitHub Actions OIDC tokens: RS256, the issuer's keys, audience, expiry, repository."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt

JWKS_TTL_SECONDS = 3600
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
    """Keys come from a JWKS file or the issuer's JWKS URL (cached, refreshed on an unknown kid)."""

    def __init__(
        self, issuer: str, audience: str, jwks_url: str | None = None, jwks_path: Path | None = None
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.jwks_url = jwks_url or f"{self.issuer}/.well-known/jwks"
        self.jwks_path = jwks_path
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def _load_keys(self, force: bool = False) -> dict[str, Any]:
        with self._lock:
            stale = time.monotonic() - self._fetched_at > JWKS_TTL_SECONDS
            if self._keys and not stale and not force:
                return self._keys
            if self.jwks_path is not None:
                document = json.loads(self.jwks_path.read_text())
            else:
                response = httpx.get(self.jwks_url, timeout=10)
                response.raise_for_status()
                document = response.json()
            keys = jwt.PyJWKSet.from_dict(document).keys
            self._keys = {key.key_id: key for key in keys if key.key_id}
            self._fetched_at = time.monotonic()
            return self._keys

    def verify(self, token: str) -> ActionsIdentity:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise OIDCError(f"malformed token: {error}") from None
        if header.get("alg") != "RS256":
            raise OIDCError(f"algorithm {header.get('alg')!r} refused: only RS256")
        kid = header.get("kid")
        key = self._load_keys().get(kid) or self._load_keys(force=True).get(kid)
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
