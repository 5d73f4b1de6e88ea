"""Recovery from what never arrived: failed deliveries asked for again; PRs without a check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gate.jobs import run_one
from gate.webhooks.recovery import reconcile, redeliver_failed
from tests.conftest import ProjectRepo, deliver, needs_shared, pr_payload, wait_until
from tests.gitrepo import lines

pytestmark = needs_shared


def hook_delivery(hook_id: int, guid: str, status_code: int, age: timedelta) -> dict:
    return {
        "id": hook_id,
        "guid": guid,
        "delivered_at": (datetime.now(UTC) - age).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "redelivery": False,
        "duration": 10.0,
        "status": "Internal Server Error" if status_code else "Timed out",
        "status_code": status_code,
        "event": "pull_request",
        "action": "opened",
        "installation_id": 1,
        "repository_id": 1,
        "throttled_at": None,
    }


def test_failed_deliveries_riskgate_never_stored_are_asked_for_again(make_client, fake_github):
    client = make_client(worker_enabled=False)
    deliver(client, "ping", {"zen": "hi"}, delivery_id="got-it")
    fake_github.hook_deliveries = [
        hook_delivery(15, "lost", 0, timedelta(minutes=5)),  # timed out: never reached us
        hook_delivery(14, "got-it", 502, timedelta(minutes=6)),  # a later attempt arrived
        hook_delivery(13, "refused", 401, timedelta(minutes=7)),  # riskgate said no on purpose
        hook_delivery(12, "lost", 503, timedelta(minutes=8)),  # an older attempt of "lost"
        hook_delivery(11, "ancient", 502, timedelta(days=3)),  # older than the retry budget
    ]
    services = client.app.state.services
    assert redeliver_failed(services, services.app) == ["lost"]
    assert fake_github.redelivered == [15]
    # one GitHub will not send again does not stop the others
    fake_github.hook_deliveries.insert(0, hook_delivery(16, "gone", 502, timedelta(minutes=1)))
    fake_github.fail_next("POST", r"/app/hook/deliveries/16/attempts", 422, message="Gone")
    assert redeliver_failed(services, services.app) == ["lost"]
    assert fake_github.redelivered == [15, 15]
    assert [c.status for c in fake_github.calls("GET", "/app/hook/deliveries")] == [200, 200]


def test_the_worker_asks_for_redeliveries_and_reconciles_when_it_starts(make_client, fake_github):
    fake_github.hook_deliveries = [hook_delivery(21, "lost", 502, timedelta(minutes=1))]
    make_client(recovery_interval_minutes=15)
    wait_until(lambda: fake_github.redelivered == [21], what="the redelivery request")
    wait_until(lambda: fake_github.calls("GET", "/app/installations"), what="the reconciler")


def test_open_pull_requests_without_a_check_are_assessed(make_client, fake_github, remotes):
    client = make_client(worker_enabled=False)
    services = client.app.state.services
    project = ProjectRepo(remotes)
    heads = {n: project.pull_request(n, {"web/app.py": lines(20 + n, f"pr{n}")}) for n in (1, 2, 3)}
    pulls = []
    for number, head in heads.items():
        payload = pr_payload("opened", project.full_name, number, project.base, head)
        pull = payload["pull_request"]
        pull["base"]["repo"] = payload["repository"]
        pulls.append(pull)
    fake_github.installations = [1]
    fake_github.repositories = {1: [{"full_name": project.full_name}]}
    fake_github.pulls = {project.full_name: pulls}
    # 1 was assessed through its webhook; 2 has some other riskgate's check; 3 never arrived
    deliver(
        client, "pull_request", pr_payload("opened", project.full_name, 1, project.base, heads[1])
    )
    while run_one(services):
        pass
    fake_github.check_runs[1] = {"id": 1, "name": "risk-gate", "head_sha": heads[2]}

    assert reconcile(services, services.app) == [f"{project.full_name}#3"]
    assert reconcile(services, services.app) == []  # queued already: not twice
    while run_one(services):
        pass
    runs = [run for run in fake_github.check_runs.values() if run["head_sha"] == heads[3]]
    assert len(runs) == 1 and runs[0]["status"] == "completed"
    assert [s["sha"] for s in fake_github.statuses] == [heads[1], heads[3]]
    assert reconcile(services, services.app) == []  # assessed: known
