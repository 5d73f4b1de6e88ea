"""A real Prometheus for tests: history backfilled with promtool, live series from an exporter."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")

needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None or PROMTOOL is None,
    reason="Prometheus is not installed (.ci/run installs Debian's `prometheus` package)",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Exporter:
    """/metrics on loopback; the test sets what it says, Prometheus scrapes it."""

    def __init__(self, render: Callable[[], str]) -> None:
        self.render = render
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = exporter.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class PrometheusServer:
    """Prometheus on a free loopback port with a temporary data directory."""

    def __init__(
        self,
        workdir: Path,
        history: str | None = None,
        scrape: list[str] | None = None,
        scrape_interval: str = "1s",
    ) -> None:
        assert PROMETHEUS and PROMTOOL, "use needs_prometheus"
        self.data = workdir / "prometheus-data"
        self.data.mkdir(parents=True)
        if history is not None:
            source = workdir / "history.om"
            source.write_text(history)
            subprocess.run(
                [
                    PROMTOOL,
                    "tsdb",
                    "create-blocks-from",
                    "openmetrics",
                    str(source),
                    str(self.data),
                ],
                check=True,
                capture_output=True,
            )
        config = workdir / "prometheus.yml"
        jobs = "".join(
            f"  - job_name: exporter{n}\n    static_configs:\n      - targets: ['{target}']\n"
            for n, target in enumerate(scrape or [])
        )
        scrape_configs = f"\n{jobs}" if jobs else " []\n"
        config.write_text(
            f"global:\n  scrape_interval: {scrape_interval}\nscrape_configs:{scrape_configs}"
        )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (workdir / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.data}",
                "--storage.tsdb.retention.time=30d",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready(workdir)

    def _wait_ready(self, workdir: Path, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.close()
        log = (workdir / "prometheus.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"Prometheus did not start:\n{log}")

    def query(self, promql: str) -> list:
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5).json()
        return answer["data"]["result"]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
