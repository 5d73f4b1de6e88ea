"""`gate serve` and `gate worker` as an operator starts them: the served app answers over HTTP,
its /docs needs nothing from the internet, and a bad setting is one line."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.cli.contract import assert_clear_error, env_for
from tests.conftest import GATE_SCRIPT, WEBHOOK_SECRET, gate


@pytest.fixture
def app_env(tmp_path: Path, app_key: tuple[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        "GATE_LOG_JSON": "false",
        **env_for(tmp_path),
        "GATE_APP_ID": "4242",
        "GATE_PRIVATE_KEY": app_key[0],
        "GATE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "GATE_MIRROR_DIR": str(tmp_path / "mirrors"),
        "GATE_RECOVERY_INTERVAL_MINUTES": "0",
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen[str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1][-3000:]
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in {timeout} s")


@pytest.mark.covers("serve --host --port --workers")
def test_the_served_app_has_offline_docs_and_a_bearer_scheme(tmp_path: Path, app_env):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(GATE_SCRIPT), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=tmp_path,
        env=app_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(f"{base}/healthz", server)
        for page in ("/docs", "/redoc"):
            html = httpx.get(base + page).text
            assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
            assets += re.findall(r"""url: ?["']([^"']+)["']""", html)
            assert assets, html
            # every asset the page loads is the app's own (no CDN), and it answers
            assert all(a.startswith("/") for a in assets), assets
            for asset in assets:
                assert httpx.get(base + asset).status_code == 200, asset
        openapi = httpx.get(f"{base}/openapi.json").json()
        assert openapi["components"]["securitySchemes"]["bearer"] == {
            "type": "http",
            "scheme": "bearer",
            "description": openapi["components"]["securitySchemes"]["bearer"]["description"],
        }
        secured = {
            (path, method)
            for path, item in openapi["paths"].items()
            for method, operation in item.items()
            if {"bearer": []} in operation.get("security", [])
        }
        assert ("/api/v1/assessments", "post") in secured
        assert not any(path in ("/healthz", "/webhooks/github") for path, _ in secured)
        assert httpx.post(f"{base}/api/v1/assessments", json={}).status_code == 401
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=60)


@pytest.mark.covers("serve")
def test_a_missing_model_is_one_line(tmp_path: Path, app_env):
    done = subprocess.run(
        [str(GATE_SCRIPT), "serve"],
        cwd=tmp_path,
        env={**app_env, "GATE_MODEL_PATH": "/nonexistent"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert_clear_error(done, 2, "/nonexistent", "GATE_MODEL_PATH", max_lines=1)


@pytest.mark.covers("worker")
def test_the_worker_runs_until_told_to_stop(tmp_path: Path, app_env):
    worker = subprocess.Popen(
        [str(GATE_SCRIPT), "worker", "--threads", "1"],
        cwd=tmp_path,
        env=app_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (tmp_path / "gate.db").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)
    assert worker.poll() is None, worker.communicate()[1]
    worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    assert "worker running with 1 threads" in err


@pytest.mark.covers("worker")
def test_a_worker_without_settings_names_them(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATE_")}
    done = gate("worker", cwd=tmp_path, env={**env, **env_for(tmp_path)})
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
