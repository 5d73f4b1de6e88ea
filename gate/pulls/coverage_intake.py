"""Coverage arriving for a commit: validate, store, and rescore the pull requests at that commit."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from gate.features.coverage.parse import parse_coverage
from gate.features.coverage.report import CoverageError, CoverageReport
from gate.git.objects import repo_paths
from gate.store import audit
from gate.store.coverage import latest_upload, save_report
from gate.store.db import Database
from gate.store.jobs import enqueue
from gate.store.tables import Assessment

MAX_REPORT_BYTES = 100 * 1024 * 1024
REPORT_NAMES = ("coverage.xml", "cobertura.xml", "lcov.info", "jacoco.xml", "coverage.json")


@dataclass(frozen=True)
class Accepted:
    id: int
    format: str
    files: int
    rescoring: int


def accept_report(
    db: Database,
    repository: str,
    sha: str,
    content: bytes,
    report_format: str | None,
    source: str,
    max_attempts: int = 5,
) -> Accepted:
    """Parse to validate (CoverageError on a bad report), store, queue the rescoring."""
    if len(content) > MAX_REPORT_BYTES:
        raise CoverageError(f"report over {MAX_REPORT_BYTES // (1024 * 1024)} MiB")
    report = parse_coverage(content, report_format)
    upload_id = save_report(db, repository, sha, report.format, content, source)
    with db.session() as session:
        deliveries = session.scalars(
            select(Assessment.delivery_pk)
            .where(
                Assessment.repository == repository,
                Assessment.head_sha == sha,
                Assessment.kind == "pr",
                Assessment.delivery_pk.is_not(None),
            )
            .distinct()
        ).all()
        for delivery_pk in deliveries:
            enqueue(session, "process_delivery", {"delivery_pk": delivery_pk}, max_attempts)
    audit.record(
        db,
        actor=f"coverage:{source}",
        action="coverage.received",
        repository=repository,
        sha=sha,
        reason=f"{report.format} report for {len(report)} files; rescoring "
        f"{len(deliveries)} pull request check(s)",
    )
    return Accepted(upload_id, report.format, len(report), len(deliveries))


def report_from_artifact(archive: bytes, max_bytes: int = MAX_REPORT_BYTES) -> bytes:
    """The report inside a workflow artifact's zip: a known file name, else its only file."""
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
            files = [info for info in bundle.infolist() if not info.is_dir()]
            named = [i for i in files if i.filename.rsplit("/", 1)[-1] in REPORT_NAMES]
            chosen = named[0] if named else files[0] if len(files) == 1 else None
            if chosen is None:
                names = ", ".join(i.filename for i in files[:5]) or "nothing"
                raise CoverageError(
                    f"artifact holds {names}; expected one of {', '.join(REPORT_NAMES)}"
                )
            if chosen.file_size > max_bytes:  # a zip bomb declares its size; check before reading
                raise CoverageError(f"{chosen.filename}: over {max_bytes // (1024 * 1024)} MiB")
            with bundle.open(chosen) as member:
                content = member.read(max_bytes + 1)
            if len(content) > max_bytes:
                raise CoverageError(f"{chosen.filename}: over {max_bytes // (1024 * 1024)} MiB")
            return content
    except zipfile.BadZipFile as error:
        raise CoverageError(f"artifact is not a zip archive: {error}") from None


def report_for(
    db: Database, repository: str, sha: str, repo: Path
) -> tuple[CoverageReport | None, list[str]]:
    """The newest report for the commit, its paths mapped onto the commit's files, and notes."""
    upload = latest_upload(db, repository, sha)
    if upload is None:
        return None, []
    try:
        report = parse_coverage(upload.content, upload.format, repo_paths=repo_paths(repo, sha))
    except CoverageError as error:  # validated on upload; a parser change may still refuse it
        return None, [f"stored coverage report {upload.id} is unreadable: {error}"]
    return report, []
