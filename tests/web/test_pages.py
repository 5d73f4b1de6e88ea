"""The console over HTTP: sign-in, who sees what, votes through the one rule book, forged posts."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from gate.store import assessments, audit
from gate.store.tables import Assessment
from gate.web.session import Sessions
from tests.conftest import needs_shared, wait_until
from tests.fakes import FakeGitHub
from tests.web.conftest import SECRET_REPO, SHOP, Held, form_token, query_of, sign_in

pytestmark = needs_shared


def pages(held: Held) -> list[str]:
    return [
        "/",
        f"/assessments/{held.pr}",
        f"/assessments/{held.pr}/not-the-token",
        f"/deployments/{held.deployment}",
        f"/deployments/{held.deployment}/watch.png",
        f"/repos/{SHOP}",
        f"/repos/{SHOP}/trend.png",
        f"/repos/{SHOP}?level=high&state=held",
    ]


def test_a_stranger_is_sent_to_sign_in_and_sees_nothing(console: tuple[TestClient, Held]) -> None:
    client, held = console
    for path in pages(held):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login?next=")
        assert query_of(answer.headers["location"])["next"] == [path.split("?")[0]] or path == (
            f"/repos/{SHOP}?level=high&state=held"
        )
        assert "shop" not in answer.text and "payments" not in answer.text
    signed_out = client.get("/login")
    assert signed_out.status_code == 200 and "Sign in with GitHub" in signed_out.text
    assert "shop" not in signed_out.text


def test_sign_in_checks_state_and_sets_a_hardened_cookie(
    console: tuple[TestClient, Held], fake_github: FakeGitHub
) -> None:
    client, _ = console
    fake_github.people.signing_in = "alice"
    start = client.get(
        "/login/github", params={"next": "/repos/octo-org/shop"}, follow_redirects=False
    )
    cookie = start.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie
    location = fake_github.handle(httpx.Request("GET", start.headers["location"])).headers[
        "location"
    ]
    code = query_of(location)["code"][0]
    forged = client.get(
        "/login/callback", params={"code": code, "state": "x" * 24}, follow_redirects=False
    )
    assert forged.status_code == 400 and "could not be verified" in forged.text
    assert "gate_session" not in forged.headers.get("set-cookie", "")
    # a fresh flow, followed to the end, lands where the person was going
    fake_github.people.signing_in = "alice"
    start = client.get(
        "/login/github", params={"next": "/repos/octo-org/shop"}, follow_redirects=False
    )
    location = fake_github.handle(httpx.Request("GET", start.headers["location"])).headers[
        "location"
    ]
    done = client.get(f"/login/callback?{location.split('?', 1)[1]}", follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/repos/octo-org/shop"
    assert "HttpOnly" in done.headers["set-cookie"] and "Secure" in done.headers["set-cookie"]
    page = client.get("/")
    assert "@alice" in page.text and f"{SHOP}#12" in page.text


def test_next_cannot_send_a_person_elsewhere(
    console: tuple[TestClient, Held], fake_github: FakeGitHub
) -> None:
    client, _ = console
    fake_github.people.signing_in = "alice"
    start = client.get(
        "/login/github", params={"next": "//evil.example.com/x"}, follow_redirects=False
    )
    location = fake_github.handle(httpx.Request("GET", start.headers["location"])).headers[
        "location"
    ]
    done = client.get(f"/login/callback?{location.split('?', 1)[1]}", follow_redirects=False)
    assert done.headers["location"] == "/"


def test_a_person_sees_only_the_repositories_github_lets_them_read(
    console: tuple[TestClient, Held], fake_github: FakeGitHub
) -> None:
    client, held = console
    sign_in(client, fake_github, "alice")
    waiting = client.get("/")
    assert f"{SHOP}#12" in waiting.text
    assert SECRET_REPO not in waiting.text and "vault-secret-reason" not in waiting.text
    assert client.get(f"/assessments/{held.vault}").status_code == 404
    assert client.get(f"/repos/{SECRET_REPO}").status_code == 404
    assert client.get("/", params={"repo": SECRET_REPO}).text.count("vault") == 0
    sign_in(client, fake_github, "carol")
    waiting = client.get("/")
    assert "vault-secret-reason" in waiting.text and "payments/charge.py" not in waiting.text
    assert client.get(f"/assessments/{held.pr}").status_code == 404
    assert client.get(f"/deployments/{held.deployment}").status_code == 404
    assert client.get(f"/deployments/{held.deployment}/watch.png").status_code == 404
    # the calls GitHub answered were the user's own, each valid against the description
    assert fake_github.calls("GET", r"/user/installations/\d+/repositories")


def test_waiting_lists_oldest_first_with_level_and_expiry(
    console: tuple[TestClient, Held], fake_github: FakeGitHub
) -> None:
    client, held = console
    sign_in(client, fake_github, "alice")
    text = client.get("/").text
    assert text.index(f"assessment-{held.pr}") < text.index(f"assessment-{held.deploy}")
    assert "deploy to" in text and "production" in text and "in 19 h" in text
    only_medium = client.get("/", params={"level": "medium"}).text
    assert f"assessment-{held.pr}" not in only_medium


def test_an_approver_approves_and_the_check_turns_green(
    console: tuple[TestClient, Held], fake_github: FakeGitHub, db_of
) -> None:
    client, held = console
    sign_in(client, fake_github, "alice")
    page = client.get("/")
    assert "Approve" in page.text
    answer = client.post(
        f"/assessments/{held.pr}/vote",
        data={
            "verdict": "approve",
            "reason": "reviewed the charge path",
            "csrf": form_token(page.text),
            "back": "/",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    assert "Approved by @alice" in client.get("/").text  # told once, on the next page
    assert "Approved by @alice" not in client.get("/").text
    assert fake_github.check_runs[held.check_run]["conclusion"] == "success"
    assert fake_github.calls("PATCH", rf"/repos/{SHOP}/check-runs/{held.check_run}")
    recorded = [e for e in audit.entries(db_of(client), SHOP) if e.action == "approval.recorded"]
    assert [(e.actor, e.details["source"]) for e in recorded] == [("alice", "console")]
    assert f"assessment-{held.pr}" not in client.get("/").text
    trail = client.get(f"/assessments/{held.pr}").text  # the audit trail names the person
    assert "approval.recorded" in trail and "hold.approved" in trail and "alice" in trail


def test_a_deployment_approved_from_waiting_answers_the_protection_rule(
    console: tuple[TestClient, Held], fake_github: FakeGitHub
) -> None:
    client, held = console
    sign_in(client, fake_github, "alice")
    token = form_token(client.get("/").text)
    client.post(
        f"/assessments/{held.deploy}/vote",
        data={"verdict": "approve", "reason": "watching it", "csrf": token},
        follow_redirects=False,
    )
    # the answer is recorded first, then delivered by the worker (retried)
    wait_until(lambda: fake_github.reviews, what="the protection rule's answer")
    assert [(r["run_id"], r["state"]) for r in fake_github.reviews] == [(777, "approved")]


def test_a_non_approver_sees_no_button_and_forged_posts_are_refused(
    console: tuple[TestClient, Held], fake_github: FakeGitHub
) -> None:
    client, held = console
    sign_in(client, fake_github, "alice")
    alice_token = form_token(client.get("/").text)
    sign_in(client, fake_github, "bob")
    page = client.get("/")
    assert f"{SHOP}#12" in page.text and "Approve</button>" not in page.text
    assert "you are not an approver" in page.text
    vote = {"verdict": "approve", "reason": "looks fine"}
    assert client.post(f"/assessments/{held.pr}/vote", data=vote).status_code == 403
    stolen = client.post(f"/assessments/{held.pr}/vote", data={**vote, "csrf": alice_token})
    assert stolen.status_code == 403
    own = client.post(f"/assessments/{held.pr}/vote", data={**vote, "csrf": form_token(page.text)})
    assert own.status_code == 403 and "only approvers" in own.text
    assert fake_github.check_runs[held.check_run]["conclusion"] == "action_required"
    assert not fake_github.calls("PATCH", r"/repos/.*/check-runs/\d+")
    # a stranger's post is sent to sign in, and changes nothing
    client.cookies.clear()
    answer = client.post(f"/assessments/{held.pr}/vote", data=vote, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_deployment_page_shows_the_watch_plot_and_unfreezes_for_approvers(
    console: tuple[TestClient, Held], fake_github: FakeGitHub
) -> None:
    client, held = console
    sign_in(client, fake_github, "bob")
    page = client.get(f"/deployments/{held.deployment}")
    assert 'id="watch-plot"' in page.text and "Unfreeze" not in page.text
    plot = client.get(f"/deployments/{held.deployment}/watch.png")
    assert plot.headers["content-type"] == "image/png" and plot.content.startswith(b"\x89PNG")
    refused = client.post(
        f"/deployments/{held.deployment}/unfreeze",
        data={"reason": "fixed", "csrf": form_token(page.text)},
    )
    assert refused.status_code == 403
    sign_in(client, fake_github, "alice")
    page = client.get(f"/deployments/{held.deployment}")
    assert "Unfreeze production" in page.text
    lifted = client.post(
        f"/deployments/{held.deployment}/unfreeze",
        data={"reason": "fixed forward", "csrf": form_token(page.text)},
    )
    assert (
        lifted.status_code == 200
        and "Lifted 1 freeze" in lifted.text
        and "No freezes" in lifted.text
    )


def test_assessment_and_repository_pages(
    console: tuple[TestClient, Held], fake_github: FakeGitHub
) -> None:
    client, held = console
    sign_in(client, fake_github, "alice")
    page = client.get(f"/assessments/{held.pr}")
    assert page.status_code == 200
    assert "payments/charge.py" in page.text and "lines_added" in page.text
    assert "coverage_new_lines" in page.text and "Approve" in page.text
    repo = client.get(f"/repos/{SHOP}", params={"state": "held"})
    assert repo.status_code == 200 and f"/assessments/{held.pr}" in repo.text
    assert "hold" in repo.text and "%" in repo.text and 'id="trend-plot"' in repo.text
    trend = client.get(f"/repos/{SHOP}/trend.png")
    assert trend.headers["content-type"] == "image/png" and trend.content.startswith(b"\x89PNG")
    sign_in(client, fake_github, "carol")
    assert client.get(f"/repos/{SHOP}/trend.png").status_code == 404
    assert (
        f'/assessments/{held.pr}"' not in client.get(f"/repos/{SHOP}", params={"level": "low"}).text
    )


def test_sign_out_needs_the_form_token_and_ends_the_session(
    console: tuple[TestClient, Held], fake_github: FakeGitHub
) -> None:
    client, _ = console
    sign_in(client, fake_github, "alice")
    page = client.get("/")
    assert client.post("/logout", data={}).status_code == 403
    out = client.post("/logout", data={"csrf": form_token(page.text)}, follow_redirects=False)
    assert out.status_code == 303
    client.cookies.clear()  # the browser drops the cookie the answer deleted
    assert client.get("/", follow_redirects=False).status_code == 303


@pytest.fixture
def db_of():
    return lambda client: client.app.state.services.db


def test_ids_beyond_the_databases_integers_are_refused(
    console: tuple[TestClient, Held], fake_github: FakeGitHub
) -> None:
    client, _ = console
    sign_in(client, fake_github, "alice")
    for path in (f"/assessments/{2**63}", f"/deployments/{2**63}", "/?page=0", "/?level=extreme"):
        assert client.get(path).status_code == 422, path


def test_the_details_link_opens_for_a_reader_and_needs_its_token_otherwise(
    console: tuple[TestClient, Held], fake_github: FakeGitHub
) -> None:
    client, held = console
    db = client.app.state.services.db
    if hasattr(Assessment, "details_token"):  # where the store keeps details tokens
        row = assessments.get(db, held.pr)
        answer = client.get(f"/assessments/{held.pr}/{row.details_token}")
        assert answer.status_code == 200 and "payments/charge.py" in answer.text
    wrong = client.get(f"/assessments/{held.pr}/guessed", follow_redirects=False)
    assert wrong.status_code == 303 and wrong.headers["location"].startswith("/login")
    sign_in(client, fake_github, "alice")
    assert "payments/charge.py" in client.get(f"/assessments/{held.pr}/any").text
    sign_in(client, fake_github, "carol")
    assert client.get(f"/assessments/{held.pr}/guessed").status_code == 404


def test_a_tampered_or_foreign_session_cookie_is_a_stranger(
    console: tuple[TestClient, Held], fake_github: FakeGitHub
) -> None:
    client, _ = console
    sign_in(client, fake_github, "alice")
    sealed = client.cookies.get("gate_session")
    client.cookies.set("gate_session", sealed[:-4] + "AAAA", domain="gate.example.com")
    assert client.get("/", follow_redirects=False).status_code == 303
    other = Sessions(client.app.state.services.settings.model_copy(update={"session_secret": None}))
    forged = other.seal({"login": "alice", "token": "ghu_x", "csrf": "x"})
    client.cookies.set("gate_session", forged, domain="gate.example.com")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_what_people_wrote_is_shown_as_text(
    console: tuple[TestClient, Held], fake_github: FakeGitHub
) -> None:
    client, held = console
    with client.app.state.services.db.session() as session:
        row = session.get(Assessment, held.pr)
        row.reasons = [{"text": "<script>alert(1)</script>"}]
    sign_in(client, fake_github, "alice")
    for path in ("/", f"/assessments/{held.pr}"):
        text = client.get(path).text
        assert "<script>alert" not in text and "&lt;script&gt;alert(1)" in text


def test_github_down_shows_nothing_and_no_approve_button_on_errors(
    console: tuple[TestClient, Held], fake_github: FakeGitHub
) -> None:
    client, _ = console
    sign_in(client, fake_github, "alice")
    fake_github.fail_next("GET", r"/repos/.*/collaborators/.*/permission", 500, times=10)
    page = client.get("/")
    assert f"{SHOP}#12" in page.text and "Approve</button>" not in page.text
    client.app.state.console_people.forget_all()
    fake_github.fail_next("GET", "/user/installations", 502, times=10)
    down = client.get("/")
    assert down.status_code == 503 and "shop" not in down.text


def test_processes_of_one_deployment_open_each_others_sessions(
    console: tuple[TestClient, Held],
) -> None:
    client, _ = console
    settings = client.app.state.services.settings.model_copy(update={"session_secret": None})
    sealed = Sessions(settings).seal({"login": "alice", "token": "t", "csrf": "c"})
    assert Sessions(settings).open(sealed, 60) == {"login": "alice", "token": "t", "csrf": "c"}
    changed = settings.model_copy(update={"webhook_secret": SecretStr("another")})
    assert Sessions(changed).open(sealed, 60) is None


def test_a_link_cannot_put_words_on_a_page(
    console: tuple[TestClient, Held], fake_github: FakeGitHub
) -> None:
    client, _ = console
    sign_in(client, fake_github, "alice")
    page = client.get("/", params={"notice": "go to evil.example"}).text
    assert 'class="notice"' not in page
    client.cookies.set("gate_notice", "go to evil.example", domain="gate.example.com")
    assert 'class="notice"' not in client.get("/").text


def test_a_code_works_once_and_a_denied_sign_in_says_so(
    console: tuple[TestClient, Held], fake_github: FakeGitHub
) -> None:
    client, _ = console
    fake_github.people.signing_in = "alice"
    start = client.get("/login/github", follow_redirects=False)
    location = fake_github.handle(httpx.Request("GET", start.headers["location"])).headers[
        "location"
    ]
    query = location.split("?", 1)[1]
    assert client.get(f"/login/callback?{query}", follow_redirects=False).status_code == 303
    client.cookies.clear()
    fresh = client.get("/login/github", follow_redirects=False)  # a new state, the old code
    state = query_of(fresh.headers["location"])["state"][0]
    code = query_of(location)["code"][0]
    replay = client.get("/login/callback", params={"code": code, "state": state})
    assert replay.status_code == 400 and "bad_verification_code" in replay.text
    assert "gate_session" not in replay.headers.get("set-cookie", "")
    start = client.get("/login/github", follow_redirects=False)
    state = query_of(start.headers["location"])["state"][0]
    denied = client.get("/login/callback", params={"error": "access_denied", "state": state})
    assert denied.status_code == 400 and "access_denied" in denied.text


def test_a_rejection_from_the_assessment_page_fails_the_check(
    console: tuple[TestClient, Held], fake_github: FakeGitHub
) -> None:
    client, held = console
    sign_in(client, fake_github, "alice")
    page = client.get(f"/assessments/{held.pr}")
    answer = client.post(
        f"/assessments/{held.pr}/vote",
        data={
            "verdict": "reject",
            "reason": "no tests for the refund path",
            "csrf": form_token(page.text),
            "back": f"/assessments/{held.pr}",
        },
    )
    assert answer.status_code == 200 and "Rejected by @alice" in answer.text
    assert fake_github.check_runs[held.check_run]["conclusion"] == "failure"
    assert "Approve</button>" not in answer.text  # resolved: nothing left to decide
