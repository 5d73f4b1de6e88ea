"""POST /api/v1/coverage: a CI job uploads the coverage report of a commit."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from gate.api.auth import CallerDep
from gate.api.errors import unprocessable
from gate.features.coverage.report import CoverageError
from gate.pulls.coverage_intake import MAX_REPORT_BYTES, accept_report

router = APIRouter(tags=["coverage"])
SHA = re.compile(r"^[0-9a-f]{40}$")


class CoverageAccepted(BaseModel):
    id: int
    repository: str
    sha: str
    format: str
    files: int
    rescoring: int


@router.post("/api/v1/coverage", status_code=201, response_model=CoverageAccepted)
async def upload_coverage(
    request: Request,
    caller: CallerDep,
    repository: Annotated[str, Form(max_length=256)],
    sha: Annotated[str, Form(max_length=64)],
    file: Annotated[UploadFile, File()],
    format: Annotated[str | None, Form(max_length=32)] = None,
) -> CoverageAccepted:
    caller.require(repository)
    if not SHA.match(sha):
        raise unprocessable("sha must be a full 40-character commit SHA", "body", "sha")
    content = await file.read(MAX_REPORT_BYTES + 1)
    services = request.app.state.services
    try:
        accepted = await run_in_threadpool(
            accept_report,
            services.db,
            repository,
            sha,
            content,
            format,
            "api",
            services.settings.job_max_attempts,
        )
    except CoverageError as error:
        raise unprocessable(f"coverage report refused: {error}", "body", "file") from None
    request.app.state.worker.wake()
    return CoverageAccepted(
        id=accepted.id,
        repository=repository,
        sha=sha,
        format=accepted.format,
        files=accepted.files,
        rescoring=accepted.rescoring,
    )
