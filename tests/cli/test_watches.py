"""`gate watches ID --scenario`: what a watch saw, in the words of risk-gate.yml."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

from gate.cli.watches import show_watch
from gate.deploys.judge.replay import replay
from gate.deploys.judge.scenario import load_scenario
from gate.deploys.judge.verdict import verdict_to_dict
from gate.store import deployments as deployment_store
from gate.store.tables import Watch
from tests.deploys.judge.builders import DEPLOYED, STEP, scenario_json


def test_a_scenario_recorded_in_the_older_words_prints_in_today_s_and_replays_the_same(db):
    deployment = deployment_store.create(
        db,
        repository="octo-org/shop",
        environment="production",
        sha="a" * 40,
        github_deployment_id=8000,
        installation_id=1,
        source="observed",
        state="observed",
        status="success",
    )
    recorded = scenario_json()  # kinds "errors" and "latency", as watches recorded them before
    with db.session() as session:
        watch = Watch(
            deployment_id=deployment.id,
            repository="octo-org/shop",
            environment="production",
            sha="a" * 40,
            deployed_at=datetime.fromtimestamp(DEPLOYED, UTC),
            ends_at=datetime.fromtimestamp(DEPLOYED + 10 * STEP, UTC),
            evidence=recorded,
        )
        session.add(watch)
        session.flush()
        watch_id = watch.id
    out = io.StringIO()
    assert show_watch(db, watch_id, True, out) == 0
    printed = json.loads(out.getvalue())
    assert [m["kind"] for m in printed["metrics"]] == ["error_ratio", "latency"]
    assert verdict_to_dict(replay(load_scenario(printed))) == verdict_to_dict(
        replay(load_scenario(recorded))
    )
