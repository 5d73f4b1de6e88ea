"""Coverage reports per commit, stored as received."""

from __future__ import annotations

from sqlalchemy import select

from gate.store.db import Database
from gate.store.tables import CoverageUpload


def save_report(
    db: Database, repository: str, sha: str, report_format: str, content: bytes, source: str
) -> int:
    with db.session() as session:
        upload = CoverageUpload(
            repository=repository, sha=sha, format=report_format, source=source, content=content
        )
        session.add(upload)
        session.flush()
        return upload.id


def latest_upload(db: Database, repository: str, sha: str) -> CoverageUpload | None:
    """The newest report received for the commit."""
    with db.session() as session:
        return session.scalars(
            select(CoverageUpload)
            .where(CoverageUpload.repository == repository, CoverageUpload.sha == sha)
            .order_by(CoverageUpload.id.desc())
            .limit(1)
        ).first()
