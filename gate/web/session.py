"""The console's sessions: encrypted, authenticated cookies with a per-session CSRF token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from fastapi import Request, Response

from gate.settings import Settings

SESSION_COOKIE = "gate_session"
STATE_COOKIE = "gate_oauth"
NOTICE_COOKIE = "gate_notice"  # what the last action did, shown once on the next page
STATE_SECONDS = 600  # a sign-in has ten minutes to come back from GitHub


@dataclass(frozen=True)
class Session:
    login: str
    token: str  # the person's GitHub user token: what GitHub says they may read
    csrf: str

    def csrf_ok(self, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(self.csrf.encode(), sent.encode())


class Sessions:
    """Cookies sealed with Fernet (AES and HMAC): the user token inside is neither readable nor
    forgeable by the browser, and each seal carries its time for expiry."""

    def __init__(self, settings: Settings) -> None:
        if settings.session_secret is not None and settings.session_secret.get_secret_value():
            seed = settings.session_secret.get_secret_value().encode()
        elif settings.webhook_secret is not None and settings.webhook_secret.get_secret_value():
            # derived, so that every process of one deployment opens the others' cookies
            seed = (
                b"riskgate console session\0" + settings.webhook_secret.get_secret_value().encode()
            )
        else:
            seed = secrets.token_bytes(32)  # sessions last as long as the process
        self._fernet = Fernet(base64.urlsafe_b64encode(hashlib.sha256(seed).digest()))
        self._max_age = int(settings.console_session_hours * 3600)
        self._secure = str(settings.public_url).startswith("https://")

    def seal(self, data: dict[str, str]) -> str:
        return self._fernet.encrypt(json.dumps(data).encode()).decode()

    def open(self, sealed: str | None, max_age: int) -> dict[str, str] | None:
        if not sealed:
            return None
        try:
            data = json.loads(self._fernet.decrypt(sealed.encode(), ttl=max_age))
        except (InvalidToken, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def read(self, request: Request) -> Session | None:
        data = self.open(request.cookies.get(SESSION_COOKIE), self._max_age)
        keys = ("login", "token", "csrf")
        if data is None or not all(isinstance(data.get(k), str) for k in keys):
            return None
        return Session(data["login"], data["token"], data["csrf"])

    def start(self, response: Response, login: str, token: str) -> None:
        session = {"login": login, "token": token, "csrf": secrets.token_urlsafe(24)}
        self._set(response, SESSION_COOKIE, self.seal(session), self._max_age)

    def end(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/")

    def begin_sign_in(self, response: Response, state: str, next_path: str) -> None:
        self._set(response, STATE_COOKIE, self.seal({"state": state, "next": next_path}), 600)

    def sign_in_state(self, request: Request) -> dict[str, str] | None:
        return self.open(request.cookies.get(STATE_COOKIE), STATE_SECONDS)

    def tell(self, response: Response, message: str) -> None:
        self._set(response, NOTICE_COOKIE, self.seal({"notice": message[:500]}), 120)

    def told(self, request: Request) -> str | None:
        """The notice an action left for this page: sealed, so a link cannot put words here."""
        data = self.open(request.cookies.get(NOTICE_COOKIE), 120)
        return data.get("notice") if data else None

    def _set(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            httponly=True,
            secure=self._secure,
            samesite="lax",
        )
