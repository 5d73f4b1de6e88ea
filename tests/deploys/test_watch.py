"""Post-deploy watch end to end: real Prometheus, the real webhook path, the fake GitHub edge."""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from gate.deploys.rollback import STEPS
from gate.store import audit
from gate.store import deployments as deployment_store
from gate.store.tables import Assessment, Deployment, Job, ServiceFreeze, Watch
from gate.store.tokens import create_token
from tests.conftest import ProjectRepo, deliver, gate, needs_shared, real_payload, wait_until
from tests.deployment_payloads import protection_rule_payload
from tests.fakes import FakeGitHub
from tests.gitrepo import lines
from tests.prometheus_server import Exporter, PrometheusServer, free_port, needs_prometheus

pytestmark = [needs_shared, needs_prometheus]

RATE = 50.0  # requests per second
ERROR_SHARE = 0.004
SAMPLE_SECONDS = 10

ERRORS = 'sum(increase(http_requests_total{service="{{service}}",code="500"}[{{step}}]))'
REQUESTS = 'sum(increase(http_requests_total{service="{{service}}"}[{{step}}]))'
LATENCY = 'max(http_request_p90_seconds{service="{{service}}"})'


def rollback_policy(url: str, *, step: int, watch_minutes: float, baseline_minutes: float) -> str:
    return f"""\
approvers:
  users: [alice]
rollback:
  prometheus: {{url: "{url}"}}
  watch_minutes: {watch_minutes}
  step_seconds: {step}
  baseline_minutes: {baseline_minutes}
  action:
    workflow: rollback.yml
    inputs:
      sha: "{{{{last_good_sha}}}}"
      environment: "{{{{environment}}}}"
  slis:
    - name: error ratio
      kind: error_ratio
      services: [web]
      errors: '{ERRORS}'
      requests: '{REQUESTS}'
    - name: p90 latency
      kind: latency
      services: [web]
      query: '{LATENCY}'
"""


Series = tuple[list[str], list[str], list[str]]


def history(start: float, end: float, errors_share: Callable[[float], float], seed: int) -> str:
    """OpenMetrics for promtool: cumulative request counters and a latency gauge, every 10 s."""
    return openmetrics(series(start, end, errors_share, seed))


def series(
    start: float, end: float, errors_share: Callable[[float], float], seed: int, labels: str = ""
) -> Series:
    """One service's (one version's) samples: 200s, 500s and p90 latency."""
    rng = random.Random(seed)
    times = [start + k * SAMPLE_SECONDS for k in range(int((end - start) // SAMPLE_SECONDS) + 1)]
    ok, failed, latency = [], [], []
    total_ok = total_failed = 0
    web = f'service="web"{labels}'
    for t in times:
        served = _poisson(rng, RATE * SAMPLE_SECONDS)
        bad = sum(rng.random() < errors_share(t) for _ in range(served))
        total_ok, total_failed = total_ok + served - bad, total_failed + bad
        ok.append(f'http_requests_total{{{web},code="200"}} {total_ok} {t:.0f}')
        failed.append(f'http_requests_total{{{web},code="500"}} {total_failed} {t:.0f}')
        latency.append(f"http_request_p90_seconds{{{web}}} {rng.gauss(0.2, 0.004):.5f} {t:.0f}")
    return ok, failed, latency


def openmetrics(*sets: Series) -> str:
    """Each family once, each series' samples together and in time order, as promtool wants."""
    return "\n".join(
        [
            "# TYPE http_requests counter",
            *(line for ok, failed, _ in sets for line in (*ok, *failed)),
            "# TYPE http_request_p90_seconds gauge",
            *(line for _, _, latency in sets for line in latency),
            "# EOF",
            "",
        ]
    )


def _poisson(rng: random.Random, mean: float) -> int:
    return max(0, round(rng.gauss(mean, math.sqrt(mean))))


class Rollout:
    """A repository with a last good deploy to production and a new one that just succeeded."""

    def __init__(self, client, fake: FakeGitHub, remotes: Path, policy: str) -> None:
        self.client, self.fake = client, fake
        self.project = ProjectRepo(remotes)
        self.good = self.project.repo.commit("policy", {".github/risk-gate.yml": policy})
        self.head = self.project.repo.commit("release", {"web/app.py": lines(90, "faster")})
        db = client.app.state.services.db
        deployment_store.create(
            db,
            repository=self.project.full_name,
            environment="production",
            sha=self.good,
            github_deployment_id=8000,
            installation_id=1,
            source="observed",
            state="observed",
            status="success",
        )

    def deployed(self, at: float, deployment_id: int = 9001, sha: str | None = None) -> None:
        payload = real_payload("deployment_status", "created")
        payload["repository"]["full_name"] = self.project.full_name
        payload["repository"]["default_branch"] = "master"
        payload["deployment"].update(
            id=deployment_id, sha=sha or self.head, environment="production"
        )
        payload["deployment_status"]["state"] = "success"
        payload["deployment_status"]["created_at"] = _iso(at)
        payload["installation"] = {"id": 1}
        deliver(self.client, "deployment_status", payload)

    def wait_acted(self) -> Watch:
        """Until every step of acting on a regression is done (the incident is not the last)."""
        return wait_until(
            lambda: (
                (w := self.watch()) is not None
                and all(w.actions.get(step, {}).get("done") for step in STEPS)
                and w
            ),
            timeout=60,
            what="the regression acted on",
        )

    def watch(self) -> Watch | None:
        with self.client.app.state.services.db.session() as session:
            return session.scalars(
                select(Watch).where(Watch.sha == self.head).order_by(Watch.id.desc())
            ).first()


def report_headers(client, repository: str) -> dict[str, str]:
    token = create_token(client.app.state.services.db, repository, "report")
    return {"Authorization": f"Bearer {token}"}


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def deployed_at() -> float:
    # 35 minutes ago, on a minute: the 30-minute window is over, so one look replays it all
    return math.floor(time.time() / 60) * 60 - 35 * 60


def prometheus_with(tmp_path: Path, deployed_at: float, after_share: float) -> PrometheusServer:
    def share(t: float) -> float:
        return after_share if t > deployed_at else ERROR_SHARE

    data = history(deployed_at - 70 * 60, time.time() - 30, share, seed=7)
    return PrometheusServer(tmp_path, history=data)


@pytest.fixture
def regressing(tmp_path: Path, deployed_at: float) -> Iterator[PrometheusServer]:
    server = prometheus_with(tmp_path, deployed_at, after_share=ERROR_SHARE * 10)
    yield server
    server.close()


@pytest.fixture
def steady(tmp_path: Path, deployed_at: float) -> Iterator[PrometheusServer]:
    server = prometheus_with(tmp_path, deployed_at, after_share=ERROR_SHARE)
    yield server
    server.close()


def policy_for(server: PrometheusServer) -> str:
    return rollback_policy(server.url, step=60, watch_minutes=30, baseline_minutes=60)


@pytest.mark.covers("watches", "watches --scenario", "judge", "outcomes --out")
def test_a_deploy_that_regresses_is_rolled_back_with_evidence(
    client,
    fake_github: FakeGitHub,
    remotes: Path,
    regressing: PrometheusServer,
    deployed_at,
    database_url: str,
    tmp_path: Path,
) -> None:
    rollout = Rollout(client, fake_github, remotes, policy_for(regressing))
    rollout.deployed(deployed_at)

    rollout.wait_acted()
    watch = rollout.watch()
    assert watch is not None and watch.state == "regressed"
    decided_at = watch.verdict["decided_at"]
    assert deployed_at < decided_at <= deployed_at + 5 * 60  # x10 errors: caught within 5 min
    ratio = next(m for m in watch.verdict["metrics"] if m["name"] == "error ratio")
    assert ratio["verdict"] == "regressed"
    assert ratio["after"] > 5 * ratio["before"]
    latency = next(m for m in watch.verdict["metrics"] if m["name"] == "p90 latency")
    assert latency["verdict"] != "regressed"

    # the rollback: workflow_dispatch of the last good SHA (validated against GitHub's OpenAPI)
    assert fake_github.dispatches == [
        {
            "workflow": "rollback.yml",
            "ref": "master",
            "inputs": {"sha": rollout.good, "environment": "production"},
        }
    ]
    assert [(s["deployment_id"], s["state"]) for s in fake_github.deployment_statuses] == [
        (9001, "failure")
    ]
    issue = fake_github.issues[0]
    assert issue["labels"] == ["riskgate-incident"]
    assert "error ratio" in issue["title"]
    assert "| error ratio | **regressed** |" in issue["body"]
    assert "dispatched workflow `rollback.yml` on `master`" in issue["body"]

    # the evidence plot is served to whoever has the issue's link, and to nobody else
    picture = issue["body"].split("![before and after](")[1].split(")")[0]
    path = httpx.URL(picture).path
    answer = client.get(path)
    assert answer.status_code == 200 and answer.content.startswith(b"\x89PNG")
    assert client.get(path.replace(watch.evidence_token, "x" * 24)).status_code == 404

    db = client.app.state.services.db
    actions = [e.action for e in audit.entries(db, rollout.project.full_name)]
    assert actions.index("deployment.regressed") < actions.index("freeze.set")
    assert "outcome.rollback" in actions
    with db.session() as session:
        deployment = session.scalars(
            select(Deployment).where(Deployment.github_deployment_id == 9001)
        ).one()
        assert deployment.status == "rolled_back"
        freezes = session.scalars(select(ServiceFreeze)).all()
        assert [(f.service, f.incident_issue, f.lifted_at) for f in freezes] == [
            ("web", issue["number"], None)
        ]

    # the on-call view, and the same verdict when the recorded scenario is replayed
    env = {"GATE_DATABASE_URL": database_url, "COLUMNS": "200"}
    listed = gate("watches", cwd=tmp_path, env=env)
    assert "regressed, rolled back" in listed.stdout and "production/web" in listed.stdout
    saved = gate("watches", str(watch.id), "--scenario", cwd=tmp_path, env=env)
    (tmp_path / "scenario.json").write_text(saved.stdout)
    kinds = [m["kind"] for m in json.loads(saved.stdout)["metrics"]]
    assert kinds == ["error_ratio", "latency"]  # risk-gate.yml's words
    replayed = json.loads(gate("judge", "scenario.json", cwd=tmp_path, env=env).stdout)
    assert (replayed["verdict"], replayed["decided_at"]) == ("regressed", decided_at)
    gate("outcomes", "--out", "outcomes.csv", cwd=tmp_path, env=env)
    labelled = (tmp_path / "outcomes.csv").read_text().splitlines()
    assert labelled == ["sha,rule,ref", f"{rollout.head},rollback,deploy-{deployment.id}"]


def test_an_error_count_sli_is_judged_on_its_counts_per_step(
    client, fake_github: FakeGitHub, remotes: Path, regressing: PrometheusServer, deployed_at
) -> None:
    ratio_sli = (
        f"    - name: error ratio\n      kind: error_ratio\n      services: [web]\n"
        f"      errors: '{ERRORS}'\n      requests: '{REQUESTS}'\n"
    )
    count_sli = "    - name: errors\n      kind: error_count\n      services: [web]\n"
    policy = policy_for(regressing).replace(ratio_sli, count_sli + f"      query: '{ERRORS}'\n")
    assert "error_count" in policy
    rollout = Rollout(client, fake_github, remotes, policy)
    rollout.deployed(deployed_at)

    rollout.wait_acted()
    watch = rollout.watch()
    assert watch is not None and watch.state == "regressed"
    counted = next(m for m in watch.evidence["metrics"] if m["name"] == "errors")
    assert counted["kind"] == "error_count" and set(counted["canary"]) == {"errors"}
    assert max(n for _, n in counted["canary"]["errors"]) > 1  # a count per step, not a ratio
    call = next(m for m in watch.verdict["metrics"] if m["name"] == "errors")
    assert call["verdict"] == "regressed"
    assert call["after"] > 5 * call["before"]


def test_the_freeze_holds_the_next_deploy_until_the_incident_is_closed(
    client, fake_github: FakeGitHub, remotes: Path, regressing: PrometheusServer, deployed_at
) -> None:
    rollout = Rollout(client, fake_github, remotes, policy_for(regressing))
    rollout.deployed(deployed_at)
    rollout.wait_acted()
    number = fake_github.issues[0]["number"]

    fix = rollout.project.repo.commit("fix", {"web/app.py": lines(91, "fixed")})
    deliver(
        client,
        "deployment_protection_rule",
        protection_rule_payload(rollout.project.full_name, fix, run_id=77, pr_numbers=(8,)),
    )
    held = wait_until(lambda: fake_github.reviews, what="the protection rule's answer")[0]
    assert "state" not in held  # held, not answered
    assert "web frozen in production after a regression" in held["comment"]
    # and the regression is now part of the service's history, a feature of the next change
    with client.app.state.services.db.session() as session:
        scored = session.scalars(
            select(Assessment).where(Assessment.kind == "deploy").order_by(Assessment.id.desc())
        ).first()
    assert scored is not None and scored.features["service_incidents_90d"] == 1.0

    closed = real_payload("issue_comment", "created")  # any issue-shaped payload will do
    closed = {
        "action": "closed",
        "issue": {**closed["issue"], "number": number, "state": "closed"},
        "repository": {**closed["repository"], "full_name": rollout.project.full_name},
        "sender": {**closed["sender"], "login": "alice"},
        "installation": {"id": 1},
    }
    deliver(client, "issues", closed)
    db = client.app.state.services.db

    def lifted() -> bool:
        with db.session() as session:
            return all(f.lifted_at for f in session.scalars(select(ServiceFreeze)))

    wait_until(lifted, what="the freeze lifted")
    entries = audit.entries(db, rollout.project.full_name)
    assert any(e.action == "freeze.lifted" and e.actor == "alice" for e in entries)

    # service restored by the rollback's own successful deploy: time to restore is recorded
    restored_at = time.time()
    rollout.deployed(restored_at, deployment_id=9002, sha=rollout.good)
    wait_until(lambda: (w := rollout.watch()) is not None and w.restored_at, what="restored")

    # DORA, from what the app saw: one rolled back and one good deploy, restored after ~35 min
    def figures() -> dict:
        answer = client.get(
            "/api/v1/report",
            params={"repo": rollout.project.full_name, "since": _iso(deployed_at - 3600)},
            headers=report_headers(client, rollout.project.full_name),
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["dora"]

    dora = wait_until(lambda: (f := figures())["lead_time_median_seconds"] is not None and f)
    assert (dora["deployments"], dora["successful"], dora["failed"]) == (2, 1, 1)
    assert dora["change_failure_rate"] == 0.5
    assert (dora["regressions"], dora["restored"]) == (1, 1)
    assert abs(dora["time_to_restore_median_seconds"] - (restored_at - deployed_at)) <= 1
    committed = int(rollout.project.repo.git("log", "-1", "--format=%ct", rollout.good))
    commit_age = restored_at - committed
    assert abs(dora["lead_time_median_seconds"] - commit_age) <= 2


def test_a_healthy_deploy_is_left_alone(
    client, fake_github: FakeGitHub, remotes: Path, steady: PrometheusServer, deployed_at
) -> None:
    rollout = Rollout(client, fake_github, remotes, policy_for(steady))
    rollout.deployed(deployed_at)
    watch = wait_until(
        lambda: (w := rollout.watch()) is not None and w.state != "watching" and w,
        timeout=60,
        what="the watch's verdict",
    )
    assert watch.state == "healthy", watch.verdict
    assert watch.looks == 30  # every minute of the window, looked at one by one
    assert fake_github.dispatches == [] and fake_github.issues == []
    assert fake_github.deployment_statuses == []
    actions = [e.action for e in audit.entries(client.app.state.services.db)]
    assert "watch.healthy" in actions and "deployment.regressed" not in actions


def test_no_data_is_never_a_pass_nor_a_rollback(
    client, fake_github: FakeGitHub, remotes: Path, tmp_path: Path, deployed_at
) -> None:
    server = PrometheusServer(tmp_path)  # up, but it has no series at all
    try:
        rollout = Rollout(client, fake_github, remotes, policy_for(server))
        rollout.deployed(deployed_at)
        watch = wait_until(
            lambda: (w := rollout.watch()) is not None and w.looks >= 30 and w,
            timeout=60,
            what="the looks over the window",
        )
    finally:
        server.close()
    assert watch.state in ("watching", "inconclusive")  # extended once, then a person decides
    assert watch.verdict["verdict"] == "inconclusive"
    assert fake_github.dispatches == [] and fake_github.issues == []
    actions = [e.action for e in audit.entries(client.app.state.services.db)]
    assert "watch.extended" in actions


# ----------------------------------------------------------------------- live, with a restart


class LiveService:
    """Counters that grow with the clock, as a real service's would; errors rise on demand."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.regressed_at: float | None = None

    def counts(self, t: float) -> tuple[float, float]:
        served = RATE * 4 * (t - self.started)
        errors = 0.005 * served
        if self.regressed_at is not None and t > self.regressed_at:
            errors += 0.1 * RATE * 4 * (t - self.regressed_at)
        return served, errors

    def exposition(self) -> str:
        served, errors = self.counts(time.time())
        return (
            "# TYPE http_requests_total counter\n"
            f'http_requests_total{{service="web",code="200"}} {served - errors:.0f}\n'
            f'http_requests_total{{service="web",code="500"}} {errors:.0f}\n'
            "# TYPE http_request_p90_seconds gauge\n"
            'http_request_p90_seconds{service="web"} 0.2\n'
        )

    def backfill(self, start: float, end: float) -> str:
        ok, failed, latency = [], [], []
        t = start
        while t <= end:
            served, errors = self.counts(t)
            ok.append(
                f'http_requests_total{{service="web",code="200"}} {served - errors:.0f} {t:.0f}'
            )
            failed.append(f'http_requests_total{{service="web",code="500"}} {errors:.0f} {t:.0f}')
            latency.append(f'http_request_p90_seconds{{service="web"}} 0.2 {t:.0f}')
            t += 1
        return openmetrics((ok, failed, latency))


def test_a_restart_mid_watch_resumes_and_still_rolls_back(
    make_client, fake_github: FakeGitHub, remotes: Path, tmp_path: Path
) -> None:
    now = time.time()
    service = LiveService(started=now - 600)
    exporter = Exporter(service.exposition)
    server = PrometheusServer(
        tmp_path, history=service.backfill(now - 300, now - 2), scrape=[exporter.address]
    )
    try:
        first = make_client()
        policy = rollback_policy(server.url, step=5, watch_minutes=2, baseline_minutes=3)
        rollout = Rollout(first, fake_github, remotes, policy)
        rollout.deployed(time.time())
        wait_until(
            lambda: (w := rollout.watch()) is not None and w.looks >= 2,
            timeout=30,
            what="two looks before the restart",
        )
        first.__exit__(None, None, None)  # the process goes away mid-watch
        looks_before = rollout.watch().looks
        assert rollout.watch().state == "watching"
        service.regressed_at = time.time()
        time.sleep(3)

        second = make_client()
        rollout.client = second
        wait_until(lambda: fake_github.dispatches, timeout=60, what="the rollback after restart")
        watch = rollout.watch()
    finally:
        server.close()
        exporter.close()
    assert watch.state == "regressed"
    assert watch.looks > looks_before
    assert watch.verdict["decided_at"] >= service.regressed_at
    assert len(fake_github.dispatches) == 1
    with second.app.state.services.db.session() as session:
        pending = session.scalars(
            select(Job).where(Job.kind == "watch_deployment", Job.state == "queued")
        ).all()
    assert pending == []


def test_prometheus_down_waits_and_says_so(
    client, fake_github: FakeGitHub, remotes: Path, deployed_at
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    rollout = Rollout(
        client,
        fake_github,
        remotes,
        rollback_policy(nowhere, step=60, watch_minutes=30, baseline_minutes=60),
    )
    rollout.deployed(deployed_at)
    db = client.app.state.services.db

    def queued() -> list[Job]:
        with db.session() as session:
            return list(
                session.scalars(
                    select(Job).where(Job.kind == "watch_deployment", Job.state == "queued")
                )
            )

    watch = wait_until(
        lambda: (w := rollout.watch()) is not None and w.last_error and queued() and w,
        timeout=60,
        what="the failed look, and the next one queued",
    )
    assert "failed 3 times" in watch.last_error and "ConnectError" in watch.last_error
    assert (watch.state, watch.looks, watch.verdict) == ("watching", 0, None)
    assert fake_github.dispatches == [] and fake_github.issues == []
    again = queued()
    assert len(again) == 1 and again[0].args["watch_id"] == watch.id
    assert again[0].run_after.timestamp() > time.time() + 30  # later, not in a hot loop


def test_side_by_side_judges_the_canary_against_the_stable_version_running_beside_it(
    client, fake_github: FakeGitHub, remotes: Path, tmp_path: Path, deployed_at
) -> None:
    rollout = Rollout(client, fake_github, remotes, "approvers:\n  users: [alice]\n")
    stable, canary = rollout.good[:7], rollout.head[:7]
    # both versions serve side by side after the deploy; only the new one fails more
    server = PrometheusServer(
        tmp_path,
        history=openmetrics(
            series(
                deployed_at - 600,
                time.time() - 30,
                lambda t: ERROR_SHARE,
                1,
                f',version="{stable}"',
            ),
            series(
                deployed_at + 10,
                time.time() - 30,
                lambda t: ERROR_SHARE * 8,
                2,
                f',version="{canary}"',
            ),
        ),
    )
    try:
        versioned = policy_for(server).replace(
            'service="{{service}}"', 'service="{{service}}",version="{{version}}"'
        )
        versioned = versioned.replace("  slis:", "  baseline: side_by_side\n  slis:")
        rollout.project.repo.commit("watch side by side", {".github/risk-gate.yml": versioned})
        rollout.deployed(deployed_at)
        wait_until(lambda: fake_github.dispatches, timeout=60, what="the rollback")
    finally:
        server.close()
    watch = rollout.watch()
    assert watch.plan["baseline"] == "side_by_side"
    ratio = next(m for m in watch.verdict["metrics"] if m["name"] == "error ratio")
    assert ratio["verdict"] == "regressed" and ratio["after"] > 4 * ratio["before"]
    assert f'version="{stable}"' in watch.plan["metrics"][0]["baseline"]["errors"]
    # the baseline is the stable version over the same minutes, not the hour before
    baseline_times = [t for t, _ in watch.evidence["metrics"][0]["baseline"]["requests"]]
    assert min(baseline_times) > deployed_at


def test_an_approver_lifts_the_freeze_on_the_incident_and_nobody_else_can(
    client, fake_github: FakeGitHub, remotes: Path, regressing: PrometheusServer, deployed_at
) -> None:
    rollout = Rollout(client, fake_github, remotes, policy_for(regressing))
    rollout.deployed(deployed_at)
    rollout.wait_acted()
    number = fake_github.issues[0]["number"]
    db = client.app.state.services.db

    def comment(login: str, body: str) -> None:
        payload = real_payload("issue_comment", "created")
        payload["repository"]["full_name"] = rollout.project.full_name
        payload["issue"]["number"] = number
        payload["issue"].pop("pull_request", None)
        payload["comment"]["body"], payload["comment"]["user"]["login"] = body, login
        payload["installation"] = {"id": 1}
        deliver(client, "issue_comment", payload)

    def frozen() -> bool:
        with db.session() as session:
            return any(f.lifted_at is None for f in session.scalars(select(ServiceFreeze)))

    comment("mallory", "/gate unfreeze I want to ship")
    wait_until(lambda: len(fake_github.comments) >= 1, what="the refusal")
    assert "only approvers (@alice) can lift the freeze" in fake_github.comments[-1]["body"]
    assert frozen()
    comment("alice", "/gate unfreeze fixed forward in #12")
    wait_until(lambda: not frozen(), what="the freeze lifted")
    wait_until(lambda: len(fake_github.comments) >= 2, what="the confirmation")
    assert fake_github.comments[-1]["body"].startswith("Freeze lifted by @alice")
    entries = audit.entries(db, rollout.project.full_name)
    refused = [e for e in entries if e.action == "freeze.lift_refused"]
    assert [e.actor for e in refused] == ["mallory"]
    lifted = [e for e in entries if e.action == "freeze.lifted"]
    assert [(e.actor, e.reason) for e in lifted] == [
        ("alice", f"lifted by alice on #{number}: fixed forward in #12")
    ]


def test_a_pipeline_reporting_finished_through_the_api_is_watched_too(
    client, fake_github: FakeGitHub, remotes: Path, steady: PrometheusServer
) -> None:
    rollout = Rollout(client, fake_github, remotes, policy_for(steady))
    push = real_payload("push", "push")
    push["repository"].update(full_name=rollout.project.full_name, default_branch="master")
    push.update(ref="refs/heads/master", after=rollout.head, installation={"id": 1})
    deliver(client, "push", push)  # riskgate learns the installation and mirrors the repository
    wait_until(lambda: client.app.state.services.mirrors.is_warm(rollout.project.full_name))
    token = create_token(client.app.state.services.db, rollout.project.full_name, "ci")
    headers = {"Authorization": f"Bearer {token}"}
    assessed = client.post(
        "/api/v1/assessments",
        headers=headers,
        json={
            "repository": rollout.project.full_name,
            "base": rollout.good,
            "head": rollout.head,
            "kind": "deploy",
            "environment": "production",
        },
    )
    assert assessed.status_code == 201, assessed.text
    deployment_id = assessed.json()["deployment_id"]
    finished = client.post(
        f"/api/v1/deployments/{deployment_id}/finished",
        headers=headers,
        json={"status": "success"},
    )
    assert finished.status_code == 200, finished.text
    assert "watching its SLIs until" in finished.json()["message"]
    watch = rollout.watch()
    assert watch is not None and watch.deployment_id == deployment_id
    assert watch.last_good_sha == rollout.good
    assert [m["name"] for m in watch.plan["metrics"]] == ["error ratio", "p90 latency"]


def test_a_github_outage_while_acting_is_retried_without_repeating_what_was_done(
    client, fake_github: FakeGitHub, remotes: Path, regressing: PrometheusServer, deployed_at
) -> None:
    # every attempt of the client's retries fails once: the whole step fails, the job retries it
    fake_github.fail_next("POST", r"/repos/[^/]+/[^/]+/issues$", 502, times=4)
    rollout = Rollout(client, fake_github, remotes, policy_for(regressing))
    rollout.deployed(deployed_at)
    watch = rollout.wait_acted()
    assert len(fake_github.issues) == 1
    assert len(fake_github.dispatches) == 1  # the rollback before it was not sent again
    assert len(fake_github.deployment_statuses) == 1
    assert watch.incident_issue == fake_github.issues[0]["number"]
    assert "error" not in watch.actions["incident"]
