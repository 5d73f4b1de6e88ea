"""The console in headless Chromium: the app and the fake GitHub each on a real port."""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from pydantic import AnyHttpUrl

from gate.app import create_app
from gate.settings import Settings
from tests.conftest import needs_shared, wait_until
from tests.fakes import FakeGitHub, FakeGitHubServer
from tests.web.conftest import SECRET_REPO, SHOP, Held, seed

CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    needs_shared,
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"
    ),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Served:
    url: str
    fake: FakeGitHub
    held: Held


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def served(
    settings: Settings, fake_github: FakeGitHub, console_settings: dict[str, Any]
) -> Iterator[Served]:
    if "sqlite" not in settings.database_url:
        pytest.skip("the browser tests run on SQLite; the HTTP tests cover PostgreSQL")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with FakeGitHubServer(fake_github) as github:
        app = create_app(
            settings.model_copy(
                update={
                    **console_settings,
                    "github_api_url": AnyHttpUrl(github.url),
                    "github_web_url": AnyHttpUrl(github.url),
                    "public_url": AnyHttpUrl(url),
                }
            )
        )
        held = seed(app.state.services.db, fake_github)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        wait_until(lambda: server.started, what="uvicorn")
        yield Served(url, fake_github, held)
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    opened = browser.new_context()
    yield opened
    opened.close()


def signed_in(context: Any, served: Served, login: str) -> Any:
    served.fake.people.signing_in = login
    page = context.new_page()
    page.goto(served.url + "/")
    assert page.url.startswith(served.url + "/login")
    page.get_by_role("link", name="Sign in with GitHub").click()
    page.wait_for_url(served.url + "/")
    assert page.get_by_text(f"@{login}").is_visible()
    return page


def test_sign_in_and_see_only_what_github_lets_you_read(context: Any, served: Served) -> None:
    page = signed_in(context, served, "alice")
    assert page.get_by_role("link", name=f"{SHOP}#12").is_visible()
    assert SECRET_REPO not in page.content()
    served.fake.people.signing_in = "carol"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(served.url + "/login")
    page.get_by_role("link", name="Sign in with GitHub").click()
    page.wait_for_url(served.url + "/")
    assert f"{SECRET_REPO}#99" in page.content()
    assert SHOP not in page.content() and "payments/charge.py" not in page.content()
    page.goto(f"{served.url}/assessments/{served.held.pr}")
    assert "payments" not in page.content()


def test_approving_from_waiting_turns_the_check_green(context: Any, served: Served) -> None:
    page = signed_in(context, served, "alice")
    row = page.locator(f"#assessment-{served.held.pr}")
    row.get_by_label("Reason").fill("reviewed the charge path")
    row.get_by_role("button", name="Approve").click()
    page.wait_for_selector("p.notice")
    assert "Approved by @alice" in page.locator("p.notice").inner_text()
    assert served.fake.check_runs[served.held.check_run]["conclusion"] == "success"
    assert served.fake.calls("PATCH", rf"/repos/{SHOP}/check-runs/{served.held.check_run}")
    assert page.locator(f"#assessment-{served.held.pr}").count() == 0


def test_a_non_approver_has_no_button_and_forged_posts_fail(
    browser: Any, context: Any, served: Served
) -> None:
    alice = signed_in(context, served, "alice")
    alice_token = alice.locator("input[name=csrf]").first.get_attribute("value")
    other = browser.new_context()
    try:
        page = signed_in(other, served, "bob")
        row = page.locator(f"#assessment-{served.held.pr}")
        assert row.count() == 1 and row.get_by_role("button", name="Approve").count() == 0
        vote = {"verdict": "approve", "reason": "forged"}
        target = f"{served.url}/assessments/{served.held.pr}/vote"
        assert page.request.post(target, form=vote).status == 403
        assert page.request.post(target, form={**vote, "csrf": alice_token}).status == 403
        assert served.fake.check_runs[served.held.check_run]["conclusion"] == "action_required"
    finally:
        other.close()


def test_the_deployment_page_shows_the_watch_plot(context: Any, served: Served) -> None:
    page = signed_in(context, served, "alice")
    page.goto(f"{served.url}/deployments/{served.held.deployment}")
    plot = page.locator("#watch-plot")
    plot.wait_for()
    wait_until(lambda: plot.evaluate("img => img.complete && img.naturalWidth > 0"), 10, "plot")
    assert page.get_by_role("button", name="Unfreeze production").is_visible()


def test_a_stranger_is_sent_to_sign_in_from_every_page(context: Any, served: Served) -> None:
    page = context.new_page()
    held = served.held
    for path in (
        "/",
        f"/assessments/{held.pr}",
        f"/deployments/{held.deployment}",
        f"/deployments/{held.deployment}/watch.png",
        f"/repos/{SHOP}",
    ):
        page.goto(served.url + path)
        assert page.url.startswith(served.url + "/login?next="), path
        text = page.locator("body").inner_text()  # the link back echoes only the asked-for path
        assert "shop" not in text and "payments" not in text and "production" not in text
