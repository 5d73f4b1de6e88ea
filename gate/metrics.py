"""Prometheus metrics, and a collector that reads job states from the store at scrape time."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

DELIVERIES = Counter(
    "gate_webhook_deliveries",
    "Webhook deliveries received, by event and intake outcome",
    ["event", "outcome"],
)
JOBS = Counter("gate_jobs", "Job attempts finished, by kind and outcome", ["kind", "outcome"])
JOB_SECONDS = Histogram(
    "gate_job_duration_seconds",
    "Time to run one job attempt",
    ["kind"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
DELIVERY_TO_CHECK_SECONDS = Histogram(
    "gate_delivery_to_check_seconds",
    "Time from receiving a pull_request delivery to the completed risk check",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
ASSESSMENTS = Counter("gate_assessments", "Changes assessed, by risk level", ["level"])
GITHUB_REQUESTS = Counter(
    "gate_github_requests", "Requests sent to GitHub, by method and status", ["method", "status"]
)
WATCH_LOOKS = Counter(
    "gate_watch_looks",
    "Post-deploy watch looks, by what they saw: healthy, inconclusive, regressed, prometheus_error",
    ["outcome"],
)
ROLLBACKS = Counter(
    "gate_rollbacks", "Regressions acted on, by action and outcome", ["action", "outcome"]
)


class JobStateCollector(Collector):
    """gate_jobs_in_state{state}: queued, running, done and failed jobs, read from the store."""

    def __init__(self, count_by_state: Callable[[], dict[str, int]]) -> None:
        self._count_by_state = count_by_state

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "gate_jobs_in_state", "Jobs in the store by state", labels=["state"]
        )
        counts = self._count_by_state()
        for state in ("queued", "running", "done", "failed"):
            family.add_metric([state], counts.get(state, 0))
        yield family


_installed: JobStateCollector | None = None


def install_job_state_collector(count_by_state: Callable[[], dict[str, int]]) -> None:
    """Register (or replace) the store-backed collector; one app per process reports."""
    global _installed
    if _installed is not None:
        REGISTRY.unregister(_installed)
    _installed = JobStateCollector(count_by_state)
    REGISTRY.register(_installed)
