"""Run the service under test in its own process on loopback, as `gate serve` would."""

from __future__ import annotations

import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import text

from gate.store import Database

HOST = "127.0.0.1"
WEBHOOK_SECRET = "benchmark secret"
APP_ID = 4242
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def app_key() -> tuple[str, str]:
    """A fresh RSA key pair for the benchmark's App: (private PEM, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class ServiceProcess:
    """A server started with `start_service`; stop it with `stop()`."""

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        except OSError:
            return ""


def start_service(
    command: list[str],
    env: dict[str, str],
    port: int,
    log_path: Path,
    health_path: str = "/healthz",
    timeout: float = 60.0,
) -> ServiceProcess:
    """Start `command` with `env` added; return once GET `health_path` answers 200."""
    log = log_path.open("wb")
    process = subprocess.Popen(
        command,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parents[1],
    )
    log.close()
    service = ServiceProcess(process, f"http://{HOST}:{port}", log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command[0]} exited early:\n{service.log_tail()}")
        try:
            if httpx.get(service.url + health_path, timeout=2).status_code == 200:
                return service
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    service.stop()
    raise RuntimeError(f"{command[0]} did not become healthy in {timeout:.0f} s")


def gate_command(port: int) -> list[str]:
    """`gate serve` from the same environment as this interpreter."""
    executable = Path(sys.executable).parent / "gate"
    gate = str(executable) if executable.exists() else shutil.which("gate")
    if gate is None:
        raise RuntimeError("the `gate` command is not installed (pip install -e .)")
    return [gate, "serve", "--host", HOST, "--port", str(port)]


def gate_env(
    work: Path,
    database_url: str,
    private_key: str,
    github_api_url: str,
    git_url_template: str | None = None,
    log_level: str = "WARNING",
) -> dict[str, str]:
    """The GATE_* settings of a service that keeps its state under `work`."""
    env = {
        "GATE_APP_ID": str(APP_ID),
        "GATE_PRIVATE_KEY": private_key,
        "GATE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "GATE_DATABASE_URL": database_url,
        "GATE_MIRROR_DIR": str(work / "mirrors"),
        "GATE_GITHUB_API_URL": github_api_url,
        "GATE_PUBLIC_URL": "https://gate.example.com",
        "GATE_LOG_JSON": "true",
        "GATE_LOG_LEVEL": log_level,
    }
    if git_url_template:
        env["GATE_GIT_URL_TEMPLATE"] = git_url_template
    return env


@contextmanager
def database(url: str | None, work: Path) -> Iterator[str]:
    """A fresh database: a SQLite file under `work`, or a new schema dropped afterwards."""
    if url is None or url.startswith("sqlite"):
        yield url or f"sqlite:///{work / 'bench.db'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = Database(url)
    with admin.engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def percentile(sorted_values: list[float], share: float) -> float:
    """The nearest-rank percentile of already sorted values (share in 0..1)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(share * len(sorted_values))))
    return sorted_values[rank - 1]


@contextmanager
def profiled(
    pid: int, output: Path | None, rate: int = 97, wall_clock: bool = False
) -> Iterator[None]:
    """Sample `pid` with py-spy (collapsed stacks to `output`) while the block runs.

    wall_clock keeps the samples of threads that wait (on git, the database, GitHub), so the
    stacks show where the time goes rather than where the CPU goes.
    """
    if output is None:
        yield
        return
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        raise RuntimeError("--profile needs py-spy: pip install py-spy")
    process = subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--threads",
            "--nonblocking",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


class MachineCPU:
    """CPU seconds the whole machine spent between start() and stop() (Linux /proc/stat).

    `busy_seconds` is user, system and interrupt time of every process; `steal_seconds` is
    time the hypervisor gave to other guests, which no process here used.
    """

    def __init__(self) -> None:
        self.busy_seconds = 0.0
        self.steal_seconds = 0.0
        self._start = (0.0, 0.0)

    @staticmethod
    def _read() -> tuple[float, float]:
        fields = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
        busy = user + nice + system + irq + softirq
        return busy / CLOCK_TICKS, steal / CLOCK_TICKS

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> float:
        busy, steal = self._read()
        self.busy_seconds = busy - self._start[0]
        self.steal_seconds = steal - self._start[1]
        return self.busy_seconds


def wait_until_quiet(max_wait: float = 240.0, busy_cores: float = 0.3) -> bool:
    """Wait (up to `max_wait` s) for two seconds in which the machine is nearly idle.

    On a shared 2-core machine another process's test run would otherwise be measured too.
    """
    deadline = time.monotonic() + max_wait
    quiet_seconds = 0
    meter = MachineCPU()
    while time.monotonic() < deadline:
        meter.start()
        time.sleep(1.0)
        quiet_seconds = quiet_seconds + 1 if meter.stop() < busy_cores else 0
        if quiet_seconds >= 2:
            return True
    print(f"warning: the machine stayed busy (over {busy_cores} cores) for {max_wait:.0f} s")
    return False
