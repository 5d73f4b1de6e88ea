"""Per-repository API tokens: created once, stored hashed, checked in constant time."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select

from gate.store.db import Database
from gate.store.tables import ApiToken, utcnow

PREFIX = "rg_"
ADMIN_SCOPE = "*"  # the repository of an admin token: it reads every repository, acts on none


def _digest(token: str) -> str:
    # tokens carry 256 random bits: a fast hash is enough, no password stretching needed
    return hashlib.sha256(token.encode()).hexdigest()


class TokenNameTaken(ValueError):
    """A live token of that scope already has that name: revoking by name would take both."""


def create_token(db: Database, repository: str, name: str, actor: str | None = None) -> str:
    """A new token for `repository` (or ADMIN_SCOPE); only its digest is kept. Names are unique
    among a scope's live tokens, so that revoking one by name is unambiguous."""
    token = PREFIX + secrets.token_urlsafe(32)
    with db.session() as session:
        taken = session.scalar(
            select(ApiToken.id).where(
                ApiToken.repository == repository,
                ApiToken.name == name,
                ApiToken.revoked_at.is_(None),
            )
        )
        if taken is not None:
            raise TokenNameTaken(name)
        session.add(
            ApiToken(repository=repository, name=name, token_hash=_digest(token), actor=actor)
        )
    return token


def token_owner(db: Database, token: str) -> tuple[str, str | None] | None:
    """(repository, GitHub login or None) of a live token, or None."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    with db.session() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or row.revoked_at is not None:
        return None
    return row.repository, row.actor


def repository_for(db: Database, token: str) -> str | None:
    """The repository a live token belongs to, or None."""
    owner = token_owner(db, token)
    return owner[0] if owner else None


def revoke_tokens(db: Database, repository: str, name: str) -> int:
    """Revoke the live tokens of `repository` (or ADMIN_SCOPE) named `name`; how many."""
    with db.session() as session:
        rows = session.scalars(
            select(ApiToken).where(
                ApiToken.repository == repository,
                ApiToken.name == name,
                ApiToken.revoked_at.is_(None),
            )
        ).all()
        for row in rows:
            row.revoked_at = utcnow()
        return len(rows)
