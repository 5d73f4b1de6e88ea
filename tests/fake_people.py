"""The fake GitHub's people: github.com's OAuth web flow and what a user token may list.

`/login/oauth/authorize` and `/login/oauth/access_token` are github.com pages, not REST
endpoints, so the OpenAPI description does not cover them: their parameters are checked here
by hand, as GitHub documents them. `/user`, `/user/installations` and
`/user/installations/{id}/repositories` are REST and go through the fake's OpenAPI check.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

CLIENT_ID = "Iv1.console-test"
CLIENT_SECRET = "console-test-secret"


@dataclass
class FakePeople:
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    signing_in: str | None = None  # who is at the browser when it reaches GitHub's authorize page
    # login -> installation id -> the repositories (full names) GitHub lists for that person
    access: dict[str, dict[int, list[str]]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # user token -> login
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (login, redirect)
    authorizations: list[dict[str, str]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def token_for(self, login: str) -> str:
        """A user token as if `login` had signed in (for tests that skip the browser)."""
        token = "ghu_" + secrets.token_hex(18)
        self.tokens[token] = login
        return token

    def owns(self, path: str) -> bool:
        return path.startswith("/login/oauth/") or path == "/user" or path.startswith("/user/")

    def web(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/login/oauth/authorize" and request.method == "GET":
            return self._authorize(request)
        if path == "/login/oauth/access_token" and request.method == "POST":
            return self._access_token(request)
        return self._refuse(f"{request.method} {path}: no such github.com OAuth page", 404)

    def _refuse(self, problem: str, status: int = 400) -> httpx.Response:
        self.violations.append(problem)
        return httpx.Response(status, json={"message": problem})

    def _authorize(self, request: httpx.Request) -> httpx.Response:
        query = dict(request.url.params)
        unknown = set(query) - {
            "client_id",
            "redirect_uri",
            "state",
            "login",
            "scope",
            "allow_signup",
            "prompt",
            "code_challenge",
            "code_challenge_method",
        }
        if unknown:
            return self._refuse(f"authorize: unknown parameters {sorted(unknown)}")
        if query.get("client_id") != self.client_id:
            return self._refuse("authorize: client_id is not this App's")
        redirect = query.get("redirect_uri", "")
        if urlsplit(redirect).scheme not in ("http", "https") or not urlsplit(redirect).netloc:
            return self._refuse(f"authorize: redirect_uri is not an absolute URL: {redirect!r}")
        if len(query.get("state", "")) < 16:
            return self._refuse("authorize: no unguessable state (CSRF protection)")
        if self.signing_in is None:
            return httpx.Response(403, text="nobody is signed in to the fake github.com")
        code = secrets.token_hex(10)
        self.codes[code] = (self.signing_in, redirect)
        self.authorizations.append(query)
        target = f"{redirect}?{urlencode({'code': code, 'state': query['state']})}"
        return httpx.Response(302, headers={"location": target})

    def _access_token(self, request: httpx.Request) -> httpx.Response:
        kind = request.headers.get("content-type", "")
        if kind.startswith("application/json"):
            form = json.loads(request.content or b"{}")
        elif kind.startswith("application/x-www-form-urlencoded"):
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        else:
            return self._refuse(f"access_token: body of type {kind!r}")
        if "json" not in request.headers.get("accept", ""):
            return self._refuse("access_token: without Accept JSON GitHub answers form-encoded")
        missing = {"client_id", "client_secret", "code"} - set(form)
        if missing:
            return self._refuse(f"access_token: missing {sorted(missing)}")
        if form["client_id"] != self.client_id or form["client_secret"] != self.client_secret:
            return httpx.Response(200, json={"error": "incorrect_client_credentials"})
        found = self.codes.pop(form["code"], None)  # a code works once
        if found is None:
            return httpx.Response(200, json={"error": "bad_verification_code"})
        login, redirect = found
        if "redirect_uri" in form and form["redirect_uri"] != redirect:
            return httpx.Response(200, json={"error": "redirect_uri_mismatch"})
        token = self.token_for(login)
        return httpx.Response(
            200, json={"access_token": token, "token_type": "bearer", "scope": ""}
        )

    def rest(self, path: str, credential: str, query: httpx.QueryParams) -> tuple[int, Any]:
        """The REST side; the caller has validated the request against the description."""
        login = self.tokens.get(credential)
        if login is None:
            return 401, {"message": "Bad credentials"}
        access = self.access.get(login, {})
        if path == "/user":
            return 200, {"login": login, "id": abs(hash(login)) % 10**6, "type": "User"}
        if path == "/user/installations":
            installations = [_installation(i) for i in sorted(access)]
            return 200, {
                "total_count": len(installations),
                "installations": _page(installations, query),
            }
        match = re.fullmatch(r"/user/installations/(\d+)/repositories", path)
        if match:
            installation = int(match.group(1))
            if installation not in access:
                return 404, {"message": "Not Found"}
            repos = [_repository(name) for name in access[installation]]
            return 200, {"total_count": len(repos), "repositories": _page(repos, query)}
        return 404, {"message": "Not Found"}


def _page(items: list[dict[str, Any]], query: httpx.QueryParams) -> list[dict[str, Any]]:
    size = int(query.get("per_page", 30))
    start = (int(query.get("page", 1)) - 1) * size
    return items[start : start + size]


def _installation(installation_id: int) -> dict[str, Any]:
    return {"id": installation_id, "app_slug": "riskgate", "target_type": "Organization"}


def _repository(full_name: str) -> dict[str, Any]:
    owner, name = full_name.split("/")
    return {
        "id": abs(hash(full_name)) % 10**8,
        "name": name,
        "full_name": full_name,
        "owner": {"login": owner},
        "private": True,
    }
