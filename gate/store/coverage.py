"""Coverage reports per commit: stored as received, parsed against the commit's files."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from gate.features.coverage import CoverageError, CoverageReport, parse_coverage
from gate.git.cmd import GitError, git
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


def repo_paths(repo: Path, sha: str) -> list[str] | None:
    try:
        listing = git(repo, "ls-tree", "-r", "-z", "--name-only", sha)
    except GitError:
        return None
    return [path for path in listing.decode("utf-8", "surrogateescape").split("\0") if path]


def report_for(
    db: Database, repository: str, sha: str, repo: Path
) -> tuple[CoverageReport | None, list[str]]:
    """The newest report for the commit, its paths mapped onto the commit's files, and notes."""
    with db.session() as session:
        upload = session.scalars(
            select(CoverageUpload)
            .where(CoverageUpload.repository == repository, CoverageUpload.sha == sha)
            .order_by(CoverageUpload.id.desc())
            .limit(1)
        ).first()
    if upload is None:
        return None, []
    try:
        report = parse_coverage(upload.content, upload.format, repo_paths=repo_paths(repo, sha))
    except CoverageError as error:  # validated on upload; a parser change may still refuse it
        return None, [f"stored coverage report {upload.id} is unreadable: {error}"]
    return report, []
