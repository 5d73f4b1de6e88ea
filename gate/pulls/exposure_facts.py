"""The facts exposure rules weigh: each touched service's tier and its added lines' coverage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gate.features.assemble import Services
from gate.features.coverage.report import CoverageReport
from gate.features.diff import FileChange
from gate.features.kinds import file_kind
from gate.policy.exposure import ExposureFacts, ServiceCoverage


def exposure_facts(
    changes: Sequence[FileChange],
    services: Services,
    coverage: CoverageReport | None,
    added: Mapping[str, Sequence[int]],
) -> ExposureFacts:
    """Coverage of the added lines per touched service (None counts without a report)."""
    executable: dict[str, int] = {}
    covered: dict[str, int] = {}
    tiers: dict[str, str] = {}
    for change in changes:
        if change.status == "deleted":
            continue
        service = services.touched([change.path])[0]
        tiers.setdefault(service.name, service.tier)
        if coverage is None:
            continue
        numbers = set(added.get(change.path, ()))
        lines = coverage.get(change.path)
        if lines is not None:
            runnable, ran = len(numbers & lines.executable), len(numbers & lines.covered)
        elif file_kind(change.path, change.binary) == "source":
            # a source file the report never saw (never imported by the tests): none of it ran
            runnable, ran = len(numbers), 0
        else:
            continue
        executable[service.name] = executable.get(service.name, 0) + runnable
        covered[service.name] = covered.get(service.name, 0) + ran
    has_report = coverage is not None
    per_service = [
        ServiceCoverage(
            name,
            tier,
            executable.get(name, 0) if has_report else None,
            covered.get(name, 0) if has_report else None,
        )
        for name, tier in tiers.items()
    ]
    total_executable = sum(executable.values())
    return ExposureFacts(
        services=per_service,
        has_coverage=has_report,
        patch_coverage=sum(covered.values()) / total_executable if total_executable else None,
        source_lines=sum(c.churn for c in changes if file_kind(c.path, c.binary) == "source"),
    )
