"""A signed-in person as GitHub knows them: the OAuth exchange, the repositories they may read."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from gate.settings import Settings

API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
PER_PAGE = 100
MAX_PAGES = 20  # 2,000 repositories per installation is more than a console lists


class SignInError(RuntimeError):
    """GitHub refused the sign-in, or answered something unusable; the message says which."""


@dataclass(frozen=True)
class Readable:
    """The repositories a person may read, each with the installation it comes through."""

    repositories: dict[str, int]  # full name -> installation id

    def __contains__(self, full_name: object) -> bool:
        return isinstance(full_name, str) and full_name.lower() in self._lower

    @property
    def _lower(self) -> set[str]:
        return {name.lower() for name in self.repositories}

    def installation(self, full_name: str) -> int | None:
        wanted = full_name.lower()
        return next((i for n, i in self.repositories.items() if n.lower() == wanted), None)


class GitHubPeople:
    """Talks to GitHub for the console with the person's own user token, never the App's."""

    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self._web = str(settings.github_web_url).rstrip("/")
        self._api = str(settings.github_api_url).rstrip("/")
        self._client = httpx.Client(transport=transport, timeout=15.0)
        self._ttl = settings.console_access_ttl_seconds
        self._cache: dict[str, tuple[float, Readable]] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

    def authorize_url(self, state: str, redirect_uri: str) -> str:
        query = {
            "client_id": self.settings.github_client_id or "",
            "redirect_uri": redirect_uri,
            "state": state,
            "allow_signup": "false",
        }
        return f"{self._web}/login/oauth/authorize?{urlencode(query)}"

    def exchange(self, code: str, redirect_uri: str) -> str:
        """The user token for an authorization code."""
        secret = self.settings.github_client_secret
        response = self._client.post(
            f"{self._web}/login/oauth/access_token",
            data={
                "client_id": self.settings.github_client_id or "",
                "client_secret": secret.get_secret_value() if secret else "",
                "code": code,
                "redirect_uri": redirect_uri,
            },
            headers={"Accept": "application/json"},
        )
        body = _json(response)
        token = body.get("access_token") if isinstance(body, dict) else None
        if response.status_code != 200 or not isinstance(token, str) or not token:
            # GitHub answers 200 with {"error": ...} for a bad or used code
            error = body.get("error_description") or body.get("error") if body else None
            raise SignInError(f"GitHub refused the sign-in: {error or response.status_code}")
        return token

    def login(self, token: str) -> str:
        body = self._get("/user", token)
        login = body.get("login") if isinstance(body, dict) else None
        if not isinstance(login, str):
            raise SignInError("GitHub's /user answer has no login")
        return login

    def readable(self, token: str) -> Readable:
        """What GitHub lists for this token, believed for a few minutes."""
        key = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        repositories: dict[str, int] = {}
        for installation in self._pages("/user/installations", token, "installations"):
            installation_id = int(installation["id"])
            path = f"/user/installations/{installation_id}/repositories"
            for repo in self._pages(path, token, "repositories"):
                repositories[str(repo["full_name"])] = installation_id
        readable = Readable(repositories)
        with self._lock:
            self._cache[key] = (now + self._ttl, readable)
            if len(self._cache) > 10_000:  # a crude bound: drop the expired
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
        return readable

    def forget(self, token: str) -> None:
        with self._lock:
            self._cache.pop(hashlib.sha256(token.encode()).hexdigest(), None)

    def forget_all(self) -> None:
        with self._lock:
            self._cache.clear()

    def _pages(self, path: str, token: str, key: str) -> list[dict[str, object]]:
        items: list[dict[str, object]] = []
        for page in range(1, MAX_PAGES + 1):
            body = self._get(path, token, {"per_page": PER_PAGE, "page": page})
            found = body.get(key, []) if isinstance(body, dict) else []
            items.extend(found)
            if len(found) < PER_PAGE:
                break
        return items

    def _get(self, path: str, token: str, params: dict[str, int] | None = None) -> object:
        response = self._client.get(
            f"{self._api}{path}",
            params=params,
            headers={**API_HEADERS, "Authorization": f"Bearer {token}"},
        )
        if response.status_code == 401:
            raise SignInError("GitHub no longer accepts this sign-in")
        response.raise_for_status()
        return _json(response)


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
