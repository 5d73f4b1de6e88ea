"""A fake GitHub at the network edge: validates every request against GitHub's OpenAPI description.

It keeps just enough state (tokens, check runs, statuses, labels) to answer like GitHub, records
every request, and can be told to fail the next requests to a path (5xx, rate limits), or to go
through phases of an outage on a clock the test controls (`outage`).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt

from tests.fake_people import FakePeople

# GATE_SHARED_DIR: a checkout whose ../shared is elsewhere (a worktree) points at it
SHARED = Path(os.environ.get("GATE_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared")
OPENAPI_PATH = SHARED / "conformance" / "github-openapi" / "api.github.com.json"
STORAGE_HOST = "pipelines.actions.githubusercontent.com"


@cache
def github_openapi() -> Any:
    from openapi_core import Config, OpenAPI

    spec = json.loads(OPENAPI_PATH.read_text())
    # spec validation off: 0.3 s instead of 47 s for GitHub's 13 MB description
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


class _OpenAPIRequest:
    """httpx.Request in the shape openapi-core reads."""

    def __init__(self, request: httpx.Request) -> None:
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        self.host_url = "https://api.github.com"
        self.path = request.url.path
        self.method = request.method.lower()
        self.body = request.content or None
        self.content_type = request.headers.get("content-type", "application/json")
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(list(request.url.params.multi_items())),
            header=Headers(dict(request.headers)),
            cookie=ImmutableMultiDict(),
        )


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    status: int
    at: datetime | None = None  # on the fake's clock, where it has one


@dataclass
class Fault:
    method: str
    path_pattern: str
    status: int
    headers: dict[str, str]
    body: dict[str, Any]
    times: int


@dataclass
class Phase:
    """From `start` to `end` (the fake's clock), every API request fails as `kind` says:
    "500", "429" (with Retry-After), "secondary" (403, no Retry-After), "primary" (403,
    x-ratelimit-remaining 0 and the reset at `end`) or "refused" (no connection at all)."""

    start: datetime
    end: datetime
    kind: str
    retry_after: int = 20


class FakeClock:
    """Time that passes only when told: the worker's clock, its sleeps and the fake's phases."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)

    def advance_to(self, when: datetime) -> None:
        with self._lock:
            self._now = max(self._now, when)


@dataclass
class FakeGitHub:
    app_id: int
    public_key_pem: str
    requests: list[Recorded] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    check_runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    labels: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    tokens: dict[str, datetime] = field(default_factory=dict)
    artifacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: list[dict[str, Any]] = field(default_factory=list)
    team_members: dict[str, set[str]] = field(default_factory=dict)  # "org/slug" -> logins
    permissions: dict[str, str] = field(default_factory=dict)  # login -> admin | write | ...
    reviews: list[dict[str, Any]] = field(default_factory=list)  # protection rule answers
    deployments: list[dict[str, Any]] = field(default_factory=list)  # newest first
    deployment_statuses: list[dict[str, Any]] = field(default_factory=list)  # ones we post
    dispatches: list[dict[str, Any]] = field(default_factory=list)  # workflow_dispatch events
    created_deployments: list[dict[str, Any]] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)  # issues we open
    # a repository's existing issues and pull requests (as GET /issues lists them), their
    # timelines and the pull requests themselves, for reading bug fixes
    tracker: list[dict[str, Any]] = field(default_factory=list)
    timelines: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    token_lifetime: timedelta = timedelta(hours=1)
    faults: list[Fault] = field(default_factory=list)
    phases: list[Phase] = field(default_factory=list)
    clock: Any = None  # a FakeClock for phases; None: the wall clock
    hook_deliveries: list[dict[str, Any]] = field(default_factory=list)  # newest first
    redelivered: list[int] = field(default_factory=list)  # hook delivery ids asked for again
    installations: list[int] = field(default_factory=list)
    repositories: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # per installation
    pulls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # open PRs per repo
    validate: bool = True
    people: FakePeople = field(default_factory=FakePeople)  # OAuth sign-in, user tokens
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _token_installation: dict[str, int] = field(default_factory=dict)
    _credential: str = ""
    _ids: int = 1000

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def fail_next(
        self,
        method: str,
        path_pattern: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        message: str = "failure injected by the test",
    ) -> None:
        self.faults.append(
            Fault(method, path_pattern, status, headers or {}, {"message": message}, times)
        )

    def outage(self, start: datetime, *kinds: tuple[str, float]) -> datetime:
        """Phases back to back from `start`: (kind, seconds) each. Returns when they end."""
        for kind, seconds in kinds:
            end = start + timedelta(seconds=seconds)
            self.phases.append(Phase(start, end, kind))
            start = end
        return start

    def _now(self) -> datetime:
        return self.clock.now() if self.clock is not None else datetime.now(UTC)

    def _phase(self) -> Phase | None:
        now = self._now()
        return next((p for p in self.phases if p.start <= now < p.end), None)

    def _phase_answer(self, phase: Phase) -> tuple[int, Any, dict[str, str]]:
        if phase.kind == "500":
            return 500, {"message": "Server Error"}, {}
        if phase.kind == "429":
            return 429, {"message": "Too many requests"}, {"retry-after": str(phase.retry_after)}
        if phase.kind == "secondary":
            message = "You have exceeded a secondary rate limit. Please wait a few minutes."
            return 403, {"message": message}, {}
        if phase.kind == "primary":
            headers = {
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": str(int(phase.end.timestamp()) + 1),
            }
            return 403, {"message": "API rate limit exceeded"}, headers
        raise AssertionError(f"unknown phase {phase.kind!r}")

    def calls(self, method: str, pattern: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and re.fullmatch(pattern, r.path)]

    def add_artifact(self, run_id: int, name: str, content: bytes, expired: bool = False) -> int:
        self._ids += 1
        self.artifacts[self._ids] = {
            "id": self._ids,
            "name": name,
            "run_id": run_id,
            "expired": expired,
            "size_in_bytes": len(content),
            "content": content,
        }
        return self._ids

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == STORAGE_HOST:  # where artifact downloads redirect: not the API
            artifact = self.artifacts.get(int(request.url.path.rsplit("/", 1)[-1]))
            if artifact is None or "authorization" in request.headers:
                self.violations.append(f"storage download {request.url}: token sent or unknown")
                return httpx.Response(403)
            return httpx.Response(200, content=artifact["content"])
        if self.people.owns(request.url.path):
            return self._person(request)
        phase = self._phase()
        if phase is not None and phase.kind == "refused":
            with self._lock:
                self.requests.append(
                    Recorded(request.method, request.url.path, None, 0, self._now())
                )
            raise httpx.ConnectError("connection refused (injected)", request=request)
        with self._lock:
            body = json.loads(request.content) if request.content else None
            if phase is not None:
                status, answer, headers = self._phase_answer(phase)
            else:
                status, answer, headers = self._answer(request, body)
            self.requests.append(
                Recorded(request.method, request.url.path, body, status, self._now())
            )
        if answer is None:
            return httpx.Response(status, headers=headers)
        return httpx.Response(status, json=answer, headers=headers)

    def _person(self, request: httpx.Request) -> httpx.Response:
        """github.com's OAuth pages, and the REST endpoints a user token reads."""
        with self._lock:
            if request.url.path.startswith("/login/oauth/"):
                response = self.people.web(request)
            else:
                problem = self._validate(request) if self.validate else None
                if problem:
                    self.violations.append(problem)
                    response = httpx.Response(422, json={"message": problem})
                elif (fault := self._fault(request)) is not None:
                    response = httpx.Response(fault.status, json=fault.body, headers=fault.headers)
                else:
                    credential = request.headers.get("authorization", "").partition(" ")[2]
                    status, answer = self.people.rest(
                        request.url.path, credential, request.url.params
                    )
                    response = httpx.Response(status, json=answer)
            self.violations.extend(self.people.violations)
            self.people.violations.clear()
            self.requests.append(
                Recorded(request.method, request.url.path, None, response.status_code, self._now())
            )
        return response

    def _answer(self, request: httpx.Request, body: Any) -> tuple[int, Any, dict[str, str]]:
        if self.validate:
            problem = self._validate(request)
            if problem:
                self.violations.append(problem)
                return 422, {"message": problem}, {}
        fault = self._fault(request)
        if fault is not None:
            return fault.status, fault.body, fault.headers
        auth_problem = self._check_auth(request)
        if auth_problem:
            return 401, {"message": auth_problem}, {}
        self._credential = request.headers.get("authorization", "").partition(" ")[2]
        return self._route(request.method, request.url.path, request.url.params, body)

    def _fault(self, request: httpx.Request) -> Fault | None:
        for fault in self.faults:
            if fault.method == request.method and re.fullmatch(
                fault.path_pattern, request.url.path
            ):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _validate(self, request: httpx.Request) -> str | None:
        try:
            github_openapi().validate_request(_OpenAPIRequest(request))
        except Exception as error:
            return f"{request.method} {request.url.path}: {error}"
        if re.fullmatch(r"/repos/[^/]+/[^/]+/statuses/[^/]+", request.url.path):
            description = json.loads(request.content).get("description") or ""
            if len(description) > 140:  # github.com answers 422; the description omits it
                return f"status description of {len(description)} characters (over 140)"
        return None

    def _check_auth(self, request: httpx.Request) -> str | None:
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        if request.url.path.startswith("/app/"):
            if scheme.lower() != "bearer":
                return "App endpoints need the App's JWT"
            try:
                claims = jwt.decode(credential, self.public_key_pem, algorithms=["RS256"])
            except jwt.PyJWTError as error:
                return f"bad App JWT: {error}"
            if str(claims.get("iss")) != str(self.app_id):
                return "JWT issuer is not this App"
            return None
        expires = self.tokens.get(credential)
        if scheme.lower() not in ("token", "bearer") or expires is None:
            return "unknown installation token"
        if expires <= datetime.now(UTC):
            return "installation token expired"
        return None

    def _route(
        self, method: str, path: str, query: httpx.QueryParams, body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        parts = path.strip("/").split("/")
        if method == "POST" and re.fullmatch(r"/app/installations/\d+/access_tokens", path):
            token = "ghs_" + secrets.token_hex(18)
            expires = datetime.now(UTC) + self.token_lifetime
            self.tokens[token] = expires
            self._token_installation[token] = int(parts[2])
            return 201, {"token": token, "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}, {}
        if method == "POST" and re.fullmatch(r"/repos/[^/]+/[^/]+/check-runs", path):
            self._ids += 1
            run = {"id": self._ids, **body}
            self.check_runs[self._ids] = run
            return 201, run, {}
        if method == "PATCH" and re.fullmatch(r"/repos/[^/]+/[^/]+/check-runs/\d+", path):
            run = self.check_runs.get(int(parts[-1]))
            if run is None:
                return 404, {"message": "Not Found"}, {}
            run.update(body)
            return 200, run, {}
        if method == "GET" and re.fullmatch(r"/repos/[^/]+/[^/]+/commits/[^/]+/check-runs", path):
            runs = [
                run
                for run in self.check_runs.values()
                if run["head_sha"] == parts[-2]
                and run["name"] == query.get("check_name", run["name"])
            ]
            return 200, {"total_count": len(runs), "check_runs": runs}, {}
        if method == "GET" and re.fullmatch(r"/repos/[^/]+/[^/]+/commits/[^/]+/statuses", path):
            found = [s for s in reversed(self.statuses) if s["sha"] == parts[-2]]  # newest first
            return 200, [{"id": i, **s} for i, s in enumerate(found)], {}
        if method == "GET" and path == "/app/hook/deliveries":
            wanted = query.get("status")
            found = [
                d
                for d in self.hook_deliveries
                if wanted is None or (200 <= d["status_code"] < 300) == (wanted == "success")
            ]
            return 200, found, {}
        if method == "POST" and re.fullmatch(r"/app/hook/deliveries/\d+/attempts", path):
            self.redelivered.append(int(parts[-2]))
            return 202, {}, {}
        if method == "GET" and path == "/app/installations":
            return 200, [_installation(i) for i in self.installations], {}
        if method == "GET" and path == "/installation/repositories":
            installation = self._token_installation.get(self._credential, 0)
            repos = self.repositories.get(installation, [])
            return 200, {"total_count": len(repos), "repositories": repos}, {}
        if method == "GET" and re.fullmatch(r"/repos/[^/]+/[^/]+/pulls", path):
            return 200, self.pulls.get(f"{parts[1]}/{parts[2]}", []), {}
        if method == "POST" and re.fullmatch(r"/repos/[^/]+/[^/]+/statuses/[0-9a-f]+", path):
            self.statuses.append({"sha": parts[-1], **body})
            return 201, {"id": len(self.statuses), **body}, {}
        if method == "POST" and re.fullmatch(r"/repos/[^/]+/[^/]+/issues/\d+/labels", path):
            key = (f"{parts[1]}/{parts[2]}", int(parts[4]))
            names = body["labels"] if isinstance(body, dict) else body
            current = self.labels.setdefault(key, [])
            current.extend(name for name in names if name not in current)
            return 200, [{"name": name} for name in current], {}
        if method == "DELETE" and re.fullmatch(r"/repos/[^/]+/[^/]+/issues/\d+/labels/[^/]+", path):
            key = (f"{parts[1]}/{parts[2]}", int(parts[4]))
            current = self.labels.setdefault(key, [])
            if parts[-1] not in current:
                return 404, {"message": "Label does not exist"}, {}
            current.remove(parts[-1])
            return 200, [{"name": name} for name in current], {}
        if method == "POST" and re.fullmatch(
            r"/repos/[^/]+/[^/]+/actions/runs/\d+/deployment_protection_rule", path
        ):
            self.reviews.append({"run_id": int(parts[-2]), **body})
            return 204, None, {}
        if method == "GET" and re.fullmatch(r"/repos/[^/]+/[^/]+/deployments", path):
            env = query.get("environment")
            found = [d for d in self.deployments if env is None or d["environment"] == env]
            return 200, [{k: v for k, v in d.items() if k != "statuses"} for d in found], {}
        if method == "GET" and re.fullmatch(r"/repos/[^/]+/[^/]+/deployments/\d+/statuses", path):
            deployment = next((d for d in self.deployments if d["id"] == int(parts[-2])), None)
            return 200, [{"state": s} for s in (deployment or {}).get("statuses", [])], {}
        if method == "POST" and re.fullmatch(r"/repos/[^/]+/[^/]+/deployments/\d+/statuses", path):
            self._ids += 1
            status = {"id": self._ids, "deployment_id": int(parts[-2]), **body}
            self.deployment_statuses.append(status)
            return 201, status, {}
        if method == "POST" and re.fullmatch(
            r"/repos/[^/]+/[^/]+/actions/workflows/[^/]+/dispatches", path
        ):
            self.dispatches.append({"workflow": parts[-2], **body})
            return 204, None, {}
        if method == "POST" and re.fullmatch(r"/repos/[^/]+/[^/]+/deployments", path):
            self._ids += 1
            deployment = {"id": self._ids, "sha": body["ref"], **body}
            self.created_deployments.append(deployment)
            return 201, deployment, {}
        if method == "GET" and re.fullmatch(r"/repos/[^/]+/[^/]+/issues", path):
            wanted = {n.strip().lower() for n in query.get("labels", "").split(",") if n.strip()}
            state = query.get("state", "open")
            found = [
                issue
                for issue in self.tracker
                if wanted <= {label["name"].lower() for label in issue.get("labels", [])}
                and state in ("all", issue.get("state", "open"))
            ]
            return 200, _page(found, query), {}
        if method == "GET" and re.fullmatch(r"/repos/[^/]+/[^/]+/issues/\d+/timeline", path):
            return 200, _page(self.timelines.get(int(parts[4]), []), query), {}
        if method == "GET" and re.fullmatch(r"/repos/[^/]+/[^/]+/pulls/\d+", path):
            pull = self.pulls.get(int(parts[4]))
            if pull is None:
                return 404, {"message": "Not Found"}, {}
            return 200, pull, {}
        if method == "POST" and re.fullmatch(r"/repos/[^/]+/[^/]+/issues", path):
            issue = {"number": 900 + len(self.issues), "state": "open", **body}
            self.issues.append(issue)
            return 201, issue, {}
        if method == "POST" and re.fullmatch(r"/repos/[^/]+/[^/]+/issues/\d+/comments", path):
            comment = {"id": len(self.comments) + 1, "number": int(parts[4]), **body}
            self.comments.append(comment)
            return 201, comment, {}
        if method == "GET" and re.fullmatch(r"/orgs/[^/]+/teams/[^/]+/memberships/[^/]+", path):
            if parts[5] in self.team_members.get(f"{parts[1]}/{parts[3]}", set()):
                return 200, {"state": "active", "role": "member", "url": ""}, {}
            return 404, {"message": "Not Found"}, {}
        if method == "GET" and re.fullmatch(
            r"/repos/[^/]+/[^/]+/collaborators/[^/]+/permission", path
        ):
            permission = self.permissions.get(parts[4])
            if permission is None:
                return 404, {"message": "Not Found"}, {}
            return 200, {"permission": permission, "role_name": permission}, {}
        if method == "GET" and re.fullmatch(r"/repos/[^/]+/[^/]+/actions/runs/\d+/artifacts", path):
            run_id = int(parts[-2])
            found = [
                {k: v for k, v in a.items() if k != "content"}
                for a in self.artifacts.values()
                if a["run_id"] == run_id and a["name"] == query.get("name", a["name"])
            ]
            return 200, {"total_count": len(found), "artifacts": found}, {}
        if method == "GET" and re.fullmatch(r"/repos/[^/]+/[^/]+/actions/artifacts/\d+/zip", path):
            artifact_id = int(parts[-2])
            if artifact_id not in self.artifacts:
                return 404, {"message": "Not Found"}, {}
            location = f"https://{STORAGE_HOST}/download/{artifact_id}"
            return 302, None, {"location": location}
        self.violations.append(f"{method} {path}: valid, but this fake has no answer for it")
        return 501, {"message": "not implemented by the fake"}, {}


def _page(items: list[dict[str, Any]], query: httpx.QueryParams) -> list[dict[str, Any]]:
    size = int(query.get("per_page", 30))
    start = (int(query.get("page", 1)) - 1) * size
    return items[start : start + size]


def _installation(installation_id: int) -> dict[str, Any]:
    return {
        "id": installation_id,
        "account": None,
        "repository_selection": "selected",
        "access_tokens_url": f"https://api.github.com/app/installations/{installation_id}/access_tokens",
        "repositories_url": "https://api.github.com/installation/repositories",
        "html_url": f"https://github.com/settings/installations/{installation_id}",
        "app_id": 1,
        "target_id": 1,
        "target_type": "Organization",
        "permissions": {},
        "events": [],
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "single_file_name": None,
        "app_slug": "riskgate",
        "suspended_by": None,
        "suspended_at": None,
    }


class FakeGitHubServer:
    """The same fake on a loopback port, for a service in another process."""

    def __init__(self, fake: FakeGitHub) -> None:
        outer = fake

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                content = self.rfile.read(length) if length else b""
                request = httpx.Request(
                    self.command,
                    "https://api.github.com" + self.path,
                    headers=dict(self.headers),
                    content=content,
                )
                response = outer.handle(request)
                self.send_response(response.status_code)
                for name, value in response.headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("content-length", str(len(response.content)))
                self.end_headers()
                self.wfile.write(response.content)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeGitHubServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
