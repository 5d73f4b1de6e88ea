"""Server time of each console page with 10,000 assessments in the store (target: under 200 ms)."""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr

from benchmarks.service import app_key
from gate.app import create_app
from gate.github import RetryPolicy
from gate.settings import Settings
from gate.store.tables import Assessment, AuditEntry, Deployment, Watch, utcnow
from gate.web.session import SESSION_COOKIE
from tests.fakes import OPENAPI_PATH, FakeGitHub

REPOSITORIES = 20
TARGET_MS = 200.0


def fill(client: TestClient, count: int, seed: int) -> tuple[int, int]:
    """`count` assessments over REPOSITORIES repositories in the last 90 days, 5 % held, each
    with two audit entries; one deployment with a watch. Returns (an assessment, a deployment)."""
    rng = random.Random(seed)
    now = utcnow()
    rows = []
    for i in range(count):
        repo = f"bench/repo{i % REPOSITORIES}"
        decision = rng.choices(["pass", "review", "hold"], [80, 15, 5])[0]
        score = rng.random()
        at = now - timedelta(minutes=rng.randrange(90 * 24 * 60))
        rows.append(
            Assessment(
                kind="pr",
                repository=repo,
                pr_number=i + 1,
                base_sha=f"{i:040x}",
                head_sha=f"{i + 1:040x}",
                features={f"feature_{k}": rng.random() for k in range(30)},
                score=score,
                level="high" if score > 0.7 else "medium" if score > 0.4 else "low",
                decision=decision,
                reasons=[{"text": f"reason {k} of change {i}"} for k in range(3)],
                created_at=at,
                held_at=at if decision == "hold" else None,
                policy_version="defaults",
                model_version="bench",
            )
        )
    db = client.app.state.services.db
    with db.session() as session:
        session.add_all(rows)
        session.flush()
        session.add_all(
            AuditEntry(
                actor="riskgate",
                action=action,
                repository=row.repository,
                sha=row.head_sha,
                reason=f"{action} of {row.id}",
                assessment_id=row.id,
                at=row.created_at,
            )
            for row in rows
            for action in ("assessment.decided", "check.completed")
        )
        deployment = Deployment(
            repository="bench/repo0",
            environment="production",
            sha=rows[0].head_sha,
            assessment_id=rows[0].id,
            source="api",
            state="answered",
            answer="approved",
        )
        session.add(deployment)
        session.flush()
        session.add(
            Watch(
                deployment_id=deployment.id,
                repository="bench/repo0",
                environment="production",
                sha=rows[0].head_sha,
                deployed_at=now,
                ends_at=now,
                state="healthy",
                evidence_png=b"\x89PNG\r\n\x1a\n",
            )
        )
        return rows[0].id, deployment.id


def measure(client: TestClient, path: str, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--assessments", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()
    if not OPENAPI_PATH.is_file():
        raise SystemExit(f"needs GitHub's OpenAPI description at {OPENAPI_PATH}")
    work = Path(tempfile.mkdtemp(prefix="riskgate-console-"))
    private, public = app_key()
    fake = FakeGitHub(app_id=1, public_key_pem=public)
    fake.people.access = {
        "alice": {1: [f"bench/repo{i}" for i in range(REPOSITORIES)]},
    }
    fake.permissions["alice"] = "admin"
    settings = Settings(
        app_id=1,
        private_key=private,
        webhook_secret="bench",
        database_url=args.database_url or f"sqlite:///{work / 'gate.db'}",
        mirror_dir=work / "mirrors",
        public_url="https://gate.example.com",
        worker_enabled=False,
        log_json=False,
        log_level="WARNING",
        github_client_id="bench",
        github_client_secret=SecretStr("bench"),
        session_secret=SecretStr("bench"),
    )
    app = create_app(settings, github_transport=fake.transport, retry=RetryPolicy())
    with TestClient(app, base_url="https://gate.example.com") as client:
        started = time.perf_counter()
        assessment, deployment = fill(client, args.assessments, args.seed)
        print(f"stored {args.assessments} assessments in {time.perf_counter() - started:.1f} s")
        token = fake.people.token_for("alice")
        client.cookies.set(
            SESSION_COOKIE,
            app.state.console_sessions.seal({"login": "alice", "token": token, "csrf": "x"}),
        )
        pages = [
            "/",
            "/?repo=bench/repo3&level=high",
            "/?page=2",
            f"/assessments/{assessment}",
            f"/deployments/{deployment}",
            "/repos/bench/repo0",
            "/repos/bench/repo0?state=held&page=2",
        ]
        client.get("/")  # GitHub's answers cached, as for any person after their first page
        # first: the page's first load (a repository's report computed, not cached)
        print(f"{'page':40} {'first ms':>9} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}")
        worst = 0.0
        for path in pages:
            first = measure(client, path, 1)[0]
            times = sorted(measure(client, path, args.repeat))
            p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
            worst = max(worst, p95)
            median = statistics.median(times)
            print(f"{path:40} {first:9.1f} {median:10.1f} {p95:8.1f} {times[-1]:8.1f}")
    print(
        f"worst p95 {worst:.1f} ms: {'under' if worst < TARGET_MS else 'OVER'} {TARGET_MS:.0f} ms"
    )
    print(f"load average {os.getloadavg()[0]:.2f} (2 cores shared: figures rise with it)")


if __name__ == "__main__":
    main()
