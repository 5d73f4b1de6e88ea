"""The one place that talks to GitHub: App auth, installation tokens, retries, the API Protocol."""

from __future__ import annotations

import logging
import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import httpx
from githubkit import AppAuthStrategy, GitHub, TokenAuthStrategy
from githubkit.exception import GitHubException, RequestError, RequestFailed

from gate import metrics

log = logging.getLogger(__name__)
T = TypeVar("T")

TOKEN_REFRESH_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class Repo:
    owner: str
    name: str

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @classmethod
    def parse(cls, full_name: str) -> Repo:
        owner, _, name = full_name.partition("/")
        if not owner or not name or "/" in name:
            raise ValueError(f"not an owner/name repository: {full_name!r}")
        return cls(owner, name)


class GitHubError(RuntimeError):
    """GitHub refused a request; retrying the same request will not help."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"GitHub answered {status}: {message}")
        self.status = status


class GitHubUnavailable(RuntimeError):
    """GitHub is failing or rate limiting us: the job is tried again later.

    `kind` is "outage" (5xx, network), "rate_limit" (a primary limit, or any limit that said when
    to come back) or "secondary" (a secondary limit without Retry-After). `retry_after` is the
    wait GitHub asked for, None when it named none.
    """

    def __init__(
        self, message: str, retry_after: timedelta | None = None, kind: str = "outage"
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.kind = kind

    @property
    def rate_limited(self) -> bool:
        return self.kind != "outage"


class GitHubAPI(Protocol):
    """What handlers may ask of GitHub for one installation. Tests fake this at the HTTP edge."""

    def create_check_run(self, repo: Repo, body: dict[str, Any]) -> int: ...

    def update_check_run(self, repo: Repo, check_run_id: int, body: dict[str, Any]) -> None: ...

    def find_check_runs(self, repo: Repo, sha: str, name: str) -> list[tuple[int, str | None]]: ...

    def create_commit_status(self, repo: Repo, sha: str, body: dict[str, Any]) -> None: ...

    def latest_status(self, repo: Repo, sha: str, context: str) -> dict[str, Any] | None: ...

    def add_labels(self, repo: Repo, number: int, labels: list[str]) -> None: ...

    def remove_label(self, repo: Repo, number: int, label: str) -> None: ...

    def list_run_artifacts(self, repo: Repo, run_id: int, name: str) -> list[dict[str, Any]]: ...

    def download_artifact(self, repo: Repo, artifact_id: int) -> bytes: ...

    def create_comment(self, repo: Repo, number: int, body: str) -> None: ...

    def team_membership(self, org: str, team_slug: str, login: str) -> str | None: ...

    def repo_permission(self, repo: Repo, login: str) -> str | None: ...

    def review_deployment(
        self, repo: Repo, run_id: int, environment: str, state: str | None, comment: str
    ) -> None: ...

    def last_successful_deployment(self, repo: Repo, environment: str) -> str | None: ...

    def create_deployment_status(
        self, repo: Repo, deployment_id: int, state: str, description: str
    ) -> None: ...

    def dispatch_workflow(
        self, repo: Repo, workflow: str, ref: str, inputs: dict[str, str]
    ) -> None: ...

    def create_deployment(
        self, repo: Repo, ref: str, environment: str, description: str, payload: dict[str, Any]
    ) -> int: ...

    def create_issue(self, repo: Repo, title: str, body: str, labels: list[str]) -> int: ...

    def access_token(self) -> str: ...

    def installation_repositories(self) -> list[str]: ...

    def open_pull_requests(self, repo: Repo) -> list[dict[str, Any]]: ...


class GitHubAppAPI(Protocol):
    """What the App itself (its JWT, no installation) may ask: deliveries and installations."""

    def failed_deliveries(self, since: datetime) -> list[dict[str, Any]]: ...

    def redeliver(self, hook_delivery_id: int) -> None: ...

    def installation_ids(self) -> list[int]: ...


@dataclass
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.5
    # a wait longer than this is not slept in the worker thread: the job is rescheduled
    max_inline_wait: float = 10.0
    sleep: Callable[[float], None] = time.sleep
    # the clock x-ratelimit-reset is read against; tests compress time with their own
    now: Callable[[], datetime] = lambda: datetime.now(UTC)


class _KeptTransport(httpx.HTTPTransport):
    """A transport that outlives the short-lived clients githubkit makes around it."""

    def close(self) -> None:
        pass


class GitHubApp:
    """The App: signs JWTs, caches installation tokens, and hands out installation clients."""

    def __init__(
        self,
        app_id: int,
        private_key: str,
        base_url: str = "https://api.github.com",
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.base_url = base_url
        self.retry = retry or RetryPolicy()
        # githubkit opens (and closes) a new httpx client per request: one kept transport gives
        # them one TLS context and a connection pool (else 40-80 ms of CPU a request)
        self._tls = ssl.create_default_context()
        self.transport = transport or _KeptTransport(verify=self._tls)
        self._app_client = self._client(AppAuthStrategy(str(app_id), private_key))
        self._tokens: dict[int, tuple[str, datetime]] = {}
        self._token_locks: dict[int, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _client(self, auth: Any) -> GitHub[Any]:
        return GitHub(
            auth,
            base_url=self.base_url,
            transport=self.transport,
            auto_retry=False,
            http_cache=False,
            ssl_verify=self._tls,
            user_agent="riskgate",
            timeout=httpx.Timeout(30.0),
            event_hooks={"response": [_count_response]},
        )

    def installation_token(self, installation_id: int, now: datetime | None = None) -> str:
        """An installation token, reused until shortly before it expires."""
        with self._locks_guard:
            lock = self._token_locks.setdefault(installation_id, threading.Lock())
        with lock:
            now = now or datetime.now(UTC)
            cached = self._tokens.get(installation_id)
            if cached and cached[1] - TOKEN_REFRESH_MARGIN > now:
                return cached[0]
            response = call_with_retries(
                lambda: self._app_client.rest.apps.create_installation_access_token(
                    installation_id
                ),
                self.retry,
            )
            data = response.json()
            expires_at = datetime.fromisoformat(data["expires_at"].replace("Z", "+00:00"))
            self._tokens[installation_id] = (data["token"], expires_at)
            return data["token"]

    def for_installation(self, installation_id: int) -> InstallationClient:
        return InstallationClient(self, installation_id)

    def failed_deliveries(self, since: datetime) -> list[dict[str, Any]]:
        """The App's webhook deliveries that failed since `since`, newest first.

        GitHub pages them with a cursor in the Link header; the pages end where `since` is.
        """
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            response = call_with_retries(
                lambda c=cursor: self._app_client.rest.apps.list_webhook_deliveries(
                    per_page=100, status="failure", **({"cursor": c} if c else {})
                ),
                self.retry,
            )
            page = response.json()
            for item in page:
                delivered = datetime.fromisoformat(str(item["delivered_at"]).replace("Z", "+00:00"))
                if delivered < since:
                    return found
                found.append(item)
            cursor = _next_cursor(response.headers.get("link", ""))
            if not page or cursor is None:
                return found

    def redeliver(self, hook_delivery_id: int) -> None:
        call_with_retries(
            lambda: self._app_client.rest.apps.redeliver_webhook_delivery(hook_delivery_id),
            self.retry,
        )

    def installation_ids(self) -> list[int]:
        ids: list[int] = []
        for page in range(1, 1000):
            response = call_with_retries(
                lambda p=page: self._app_client.rest.apps.list_installations(per_page=100, page=p),
                self.retry,
            )
            listed = response.json()
            ids += [int(item["id"]) for item in listed]
            if len(listed) < 100:
                break
        return ids


class InstallationClient:
    """GitHubAPI for one installation, authenticated with its (cached) token."""

    def __init__(self, app: GitHubApp, installation_id: int) -> None:
        self.app = app
        self.installation_id = installation_id

    def access_token(self) -> str:
        return self.app.installation_token(self.installation_id)

    def _call(self, request: Callable[[GitHub[Any]], T]) -> T:
        client = self.app._client(TokenAuthStrategy(self.access_token()))
        return call_with_retries(lambda: request(client), self.app.retry)

    def create_check_run(self, repo: Repo, body: dict[str, Any]) -> int:
        response = self._call(lambda gh: gh.rest.checks.create(repo.owner, repo.name, data=body))
        return int(response.json()["id"])

    def update_check_run(self, repo: Repo, check_run_id: int, body: dict[str, Any]) -> None:
        self._call(lambda gh: gh.rest.checks.update(repo.owner, repo.name, check_run_id, data=body))

    def find_check_runs(self, repo: Repo, sha: str, name: str) -> list[tuple[int, str | None]]:
        """(id, external_id) of the check runs with this name on a commit."""
        response = self._call(
            lambda gh: gh.rest.checks.list_for_ref(
                repo.owner, repo.name, sha, check_name=name, filter_="latest"
            )
        )
        runs = response.json().get("check_runs", [])
        return [(int(run["id"]), run.get("external_id")) for run in runs]

    def create_commit_status(self, repo: Repo, sha: str, body: dict[str, Any]) -> None:
        self._call(
            lambda gh: gh.rest.repos.create_commit_status(repo.owner, repo.name, sha, data=body)
        )

    def latest_status(self, repo: Repo, sha: str, context: str) -> dict[str, Any] | None:
        """The newest commit status of `context` on a commit (GitHub lists newest first)."""
        response = self._call(
            lambda gh: gh.rest.repos.list_commit_statuses_for_ref(
                repo.owner, repo.name, sha, per_page=100
            )
        )
        return next((s for s in response.json() if s.get("context") == context), None)

    def add_labels(self, repo: Repo, number: int, labels: list[str]) -> None:
        self._call(
            lambda gh: gh.rest.issues.add_labels(
                repo.owner, repo.name, number, data={"labels": labels}
            )
        )

    def list_run_artifacts(self, repo: Repo, run_id: int, name: str) -> list[dict[str, Any]]:
        response = self._call(
            lambda gh: gh.rest.actions.list_workflow_run_artifacts(
                repo.owner, repo.name, run_id, name=name
            )
        )
        return list(response.json().get("artifacts", []))

    def download_artifact(self, repo: Repo, artifact_id: int) -> bytes:
        # GitHub answers 302 to a short-lived storage URL; the redirect drops our token
        response = self._call(
            lambda gh: gh.rest.actions.download_artifact(repo.owner, repo.name, artifact_id, "zip")
        )
        return response.content

    def create_comment(self, repo: Repo, number: int, body: str) -> None:
        self._call(
            lambda gh: gh.rest.issues.create_comment(
                repo.owner, repo.name, number, data={"body": body[:65_000]}
            )
        )

    def team_membership(self, org: str, team_slug: str, login: str) -> str | None:
        """'active' or 'pending' for a member of the team, None for anyone else."""
        try:
            response = self._call(
                lambda gh: gh.rest.teams.get_membership_for_user_in_org(org, team_slug, login)
            )
        except GitHubError as error:
            if error.status == 404:
                return None
            raise
        return response.json().get("state")

    def repo_permission(self, repo: Repo, login: str) -> str | None:
        """admin, maintain, write, triage or read; None for a user without access."""
        try:
            response = self._call(
                lambda gh: gh.rest.repos.get_collaborator_permission_level(
                    repo.owner, repo.name, login
                )
            )
        except GitHubError as error:
            if error.status == 404:
                return None
            raise
        data = response.json()
        return data.get("role_name") or data.get("permission")

    def review_deployment(
        self, repo: Repo, run_id: int, environment: str, state: str | None, comment: str
    ) -> None:
        """Answer a custom deployment protection rule; without a state, post a status report."""
        body: dict[str, Any] = {"environment_name": environment, "comment": comment[:1024]}
        if state is not None:
            body["state"] = state
        self._call(
            lambda gh: gh.rest.actions.review_custom_gates_for_run(
                repo.owner, repo.name, run_id, data=body
            )
        )

    def last_successful_deployment(self, repo: Repo, environment: str) -> str | None:
        """The SHA of the newest deployment to `environment` whose latest status is success."""
        listed = self._call(
            lambda gh: gh.rest.repos.list_deployments(
                repo.owner, repo.name, environment=environment, per_page=30
            )
        ).json()
        for deployment in listed:
            statuses = self._call(
                lambda gh, d=deployment: gh.rest.repos.list_deployment_statuses(
                    repo.owner, repo.name, d["id"], per_page=1
                )
            ).json()
            if statuses and statuses[0].get("state") == "success":
                return str(deployment["sha"])
        return None

    def create_deployment_status(
        self, repo: Repo, deployment_id: int, state: str, description: str
    ) -> None:
        body = {"state": state, "description": description[:140]}
        self._call(
            lambda gh: gh.rest.repos.create_deployment_status(
                repo.owner, repo.name, deployment_id, data=body
            )
        )

    def dispatch_workflow(
        self, repo: Repo, workflow: str, ref: str, inputs: dict[str, str]
    ) -> None:
        """workflow_dispatch: the workflow's file name or id, on a branch or tag."""
        workflow_id: int | str = int(workflow) if workflow.isdigit() else workflow
        body = {"ref": ref, "inputs": inputs}
        self._call(
            lambda gh: gh.rest.actions.create_workflow_dispatch(
                repo.owner, repo.name, workflow_id, data=body
            )
        )

    def create_deployment(
        self, repo: Repo, ref: str, environment: str, description: str, payload: dict[str, Any]
    ) -> int:
        body = {
            "ref": ref,
            "environment": environment,
            "description": description[:140],
            "payload": payload,
            "auto_merge": False,
            "required_contexts": [],  # a rollback must not wait for the checks of an old commit
        }
        response = self._call(
            lambda gh: gh.rest.repos.create_deployment(repo.owner, repo.name, data=body)
        )
        return int(response.json()["id"])

    def create_issue(self, repo: Repo, title: str, body: str, labels: list[str]) -> int:
        data = {"title": title[:256], "body": body[:65_000], "labels": labels}
        response = self._call(lambda gh: gh.rest.issues.create(repo.owner, repo.name, data=data))
        return int(response.json()["number"])

    def installation_repositories(self) -> list[str]:
        """owner/name of every repository this installation may read."""
        names: list[str] = []
        for page in range(1, 1000):
            listed = self._call(
                lambda gh, p=page: gh.rest.apps.list_repos_accessible_to_installation(
                    per_page=100, page=p
                )
            ).json()["repositories"]
            names += [str(item["full_name"]) for item in listed]
            if len(listed) < 100:
                break
        return names

    def open_pull_requests(self, repo: Repo) -> list[dict[str, Any]]:
        pulls: list[dict[str, Any]] = []
        for page in range(1, 1000):
            listed = self._call(
                lambda gh, p=page: gh.rest.pulls.list(
                    repo.owner, repo.name, state="open", per_page=100, page=p
                )
            ).json()
            pulls += listed
            if len(listed) < 100:
                break
        return pulls

    def remove_label(self, repo: Repo, number: int, label: str) -> None:
        try:
            self._call(lambda gh: gh.rest.issues.remove_label(repo.owner, repo.name, number, label))
        except GitHubError as error:
            if error.status != 404:  # already gone is what we wanted
                raise


def call_with_retries(request: Callable[[], T], policy: RetryPolicy) -> T:
    """Run a request, retrying 5xx, network errors and short rate limits in place.

    Longer waits are handed to the job queue as GitHubUnavailable, which reschedules the job.
    """
    for attempt in range(1, policy.attempts + 1):
        try:
            return request()
        except GitHubException as error:
            failure = _classify(error, policy)
            if failure is None:
                raise _refusal(error) from error
            kind, wait, message = failure
            inline = policy.base_delay * 2 ** (attempt - 1) if wait is None else wait
            if (
                attempt == policy.attempts
                or inline > policy.max_inline_wait
                or (kind == "secondary" and wait is None)  # at least a minute: not in place
            ):
                retry_after = None if wait is None else timedelta(seconds=wait)
                raise GitHubUnavailable(message, retry_after, kind) from error
            log.warning("GitHub request failed, retrying", extra={"wait_s": inline, "why": message})
            policy.sleep(inline)
    raise AssertionError("unreachable")


SECONDARY = re.compile(r"secondary rate limit|abuse detection", re.IGNORECASE)


def _classify(error: GitHubException, policy: RetryPolicy) -> tuple[str, float | None, str] | None:
    """(kind, the wait GitHub asked for or None, why) of a failure that can pass; else None."""
    if not isinstance(error, RequestFailed):  # RequestFailed is a RequestError: test it first
        if isinstance(error, RequestError):
            return "outage", None, f"could not reach GitHub ({error})"
        return None
    response = error.response
    status = response.status_code
    headers = response.headers
    retry_after = _seconds(headers.get("retry-after"))
    if status >= 500:
        return "outage", retry_after, f"GitHub answered {status}"
    if status not in (403, 429):
        return None
    if retry_after is not None:
        return "rate_limit", retry_after, f"rate limited ({status}, Retry-After {retry_after:g} s)"
    secondary = bool(SECONDARY.search(_message(response)))
    reset = _seconds(headers.get("x-ratelimit-reset"))
    if headers.get("x-ratelimit-remaining") == "0" and reset is not None and not secondary:
        wait = max(reset - policy.now().timestamp(), 0.0)
        return (
            "rate_limit",
            wait,
            f"primary rate limit exhausted ({status}), resets in {wait:.0f} s",
        )
    if secondary or status == 429:
        return "secondary", None, f"secondary rate limit ({status}) without Retry-After"
    return None


def _seconds(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


def _message(response: Any) -> str:
    try:
        data = response.json()
    except ValueError:
        return str(response.text[:500])
    return str(data.get("message", "")) if isinstance(data, dict) else ""


def _refusal(error: GitHubException) -> Exception:
    if isinstance(error, RequestFailed):
        return GitHubError(error.response.status_code, _message(error.response)[:200])
    return GitHubError(0, str(error))


def _next_cursor(link: str) -> str | None:
    """The `cursor` of the Link header's rel="next" URL, if there is one."""
    for part in link.split(","):
        if 'rel="next"' in part:
            found = re.search(r"[?&]cursor=([^&>]+)", part)
            return found.group(1) if found else None
    return None


def _count_response(response: httpx.Response) -> None:
    metrics.GITHUB_REQUESTS.labels(
        method=response.request.method, status=str(response.status_code)
    ).inc()
