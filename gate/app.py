"""The FastAPI app factory: webhooks, gate API, the console, /metrics and /healthz."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi_offline import FastAPIOffline

from gate import __version__, logs, metrics
from gate.api import assessments as assessments_api
from gate.api import coverage as coverage_api
from gate.api import decisions as decisions_api
from gate.api import evidence as evidence_api
from gate.api import gate as gate_api
from gate.api import operations
from gate.api import report as report_api
from gate.api.oidc import OIDCVerifier
from gate.context import Services
from gate.features.indexes import HistoryIndexes
from gate.git.mirror import Mirrors
from gate.git.objects import ObjectReaders
from gate.github import GitHubApp, RetryPolicy
from gate.jobs import Worker
from gate.model.artifact import load_model
from gate.model.registry import HistoryMinimum, ModelRegistry
from gate.policy.loader import PolicyLoader
from gate.settings import Settings, load_settings
from gate.store import Database
from gate.store.jobs import count_by_state
from gate.web import deployments as web_deployments
from gate.web import pages as web_pages
from gate.web import signin as web_signin
from gate.web.actions import Approvers
from gate.web.auth import SignInRequired, sign_in_location
from gate.web.people import GitHubPeople
from gate.web.reports import RecentReports
from gate.web.session import Sessions
from gate.webhooks import intake


@dataclass
class Intake:
    db: Database
    secret: bytes
    max_attempts: int
    wake: Callable[[], None]


def build_services(
    settings: Settings,
    github_transport: httpx.BaseTransport | None = None,
    retry: RetryPolicy | None = None,
) -> Services:
    """Everything a worker needs; fails at once on a bad setting, database or model."""
    settings.require_github_app()
    db = Database(settings.database_url)
    db.migrate()
    github_app = GitHubApp(
        settings.app_id or 0,
        settings.private_key_pem or "",
        base_url=str(settings.github_api_url),
        transport=github_transport,
        retry=retry,
    )
    default_model = load_model(settings.model_path)
    minimum = HistoryMinimum(settings.repo_model_min_rows, settings.repo_model_min_failures)
    objects = ObjectReaders()  # one kept `git cat-file` per mirror, shared by all below
    return Services(
        settings=settings,
        db=db,
        policies=PolicyLoader(db, objects),
        model=default_model,
        models=ModelRegistry(db, default_model, minimum),
        mirrors=Mirrors(settings.mirror_dir, objects),
        github=github_app.for_installation,
        indexes=HistoryIndexes(objects=objects),
        app=github_app,
    )


def create_app(
    settings: Settings | None = None,
    *,
    github_transport: httpx.BaseTransport | None = None,
    retry: RetryPolicy | None = None,
) -> FastAPI:
    settings = settings or load_settings()
    services = build_services(settings, github_transport, retry)
    worker = Worker(services, threads=settings.worker_threads)
    console_people = GitHubPeople(settings, github_transport)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.worker_enabled:
            worker.start()  # picks up whatever an earlier process accepted but never ran
        try:
            yield
        finally:
            worker.stop()
            console_people.close()
            services.mirrors.objects.close()
            services.db.dispose()

    # Swagger UI and ReDoc from assets the app serves itself: /docs works without the internet
    app = FastAPIOffline(title="riskgate", version=__version__, lifespan=lifespan)
    app.state.services = services
    app.state.oidc = OIDCVerifier(
        settings.oidc_issuer,
        settings.oidc_audience,
        settings.oidc_jwks_url,
        settings.oidc_jwks_path,
    )
    app.state.worker = worker
    app.state.intake = Intake(
        db=services.db,
        secret=settings.webhook_secret.get_secret_value().encode()
        if settings.webhook_secret
        else b"",
        max_attempts=settings.job_max_attempts,
        wake=worker.wake,
    )
    metrics.install_job_state_collector(lambda: count_by_state(services.db))
    app.include_router(intake.router)
    app.include_router(operations.router)
    app.include_router(evidence_api.router)
    app.include_router(assessments_api.router)
    app.include_router(coverage_api.router)
    app.include_router(decisions_api.router)
    app.include_router(gate_api.router)
    app.include_router(report_api.router)
    _install_console(app, services, console_people)
    return app


def _install_console(app: FastAPI, services: Services, people: GitHubPeople) -> None:
    settings = services.settings
    app.state.console_sessions = Sessions(settings)
    app.state.console_people = people
    app.state.console_approvers = Approvers(services, settings.console_access_ttl_seconds)
    app.state.console_reports = RecentReports(services.db)

    @app.exception_handler(SignInRequired)
    async def _sign_in(_request: Request, error: SignInRequired) -> RedirectResponse:
        # a stranger learns nothing, not even whether the page exists
        return RedirectResponse(sign_in_location(error.next_path), status_code=303)

    app.include_router(web_signin.router)
    app.include_router(web_pages.router)
    app.include_router(web_deployments.router)


def serve_app() -> FastAPI:
    """Entry point for `uvicorn --factory gate.app:serve_app`."""
    settings = load_settings()
    logs.configure(settings.log_level, settings.log_json)
    return create_app(settings)
