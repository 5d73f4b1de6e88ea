"""`gate assess`: score a change of a local repository, print why, and record it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gate.cli.common import console, fail, settings

if TYPE_CHECKING:
    from gate.pulls.assess import AssessmentResult
    from gate.store import Database

app = typer.Typer()


@app.command()
def assess(
    repo: Annotated[Path, typer.Option(help="a local git repository")] = Path("."),
    head: Annotated[str, typer.Option(help="the change's newest commit")] = "HEAD",
    base: Annotated[
        str | None, typer.Option(help="compare against (default: head's first parent)")
    ] = None,
    coverage: Annotated[
        Path | None,
        typer.Option(help="a coverage report for head (Cobertura, LCOV, JaCoCo, coverage.py JSON)"),
    ] = None,
    coverage_format: Annotated[str | None, typer.Option(help="the report's format")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    record: Annotated[bool, typer.Option(help="record the assessment in the database")] = True,
    repository: Annotated[
        str | None,
        typer.Option(help="OWNER/NAME to record it under (default: from the origin remote)"),
    ] = None,
) -> None:
    """Score a change of a local repository with the model, and record it."""
    from gate.features.coverage.parse import parse_coverage
    from gate.features.coverage.report import CoverageError
    from gate.features.history import MessageRules
    from gate.features.indexes import local_index
    from gate.git.cmd import first_parent, resolve
    from gate.git.objects import repo_paths
    from gate.model.artifact import ModelError, load_model
    from gate.policy.repo_config import repo_policy, repo_services
    from gate.pulls.assess import assess_change
    from gate.pulls.calibration import commit_time, ensure, local_scores_file

    configured = settings()
    try:
        model = load_model(configured.model_path)
    except ModelError as error:
        raise fail(str(error)) from None
    repo = repo.resolve()
    head_sha = resolve(repo, head)
    if head_sha is None:
        raise fail(f"{repo}: no commit {head!r} (is it a git repository?)")
    base_sha = resolve(repo, base) if base else first_parent(repo, head_sha)
    if base_sha is None:
        raise fail(f"{repo}: no commit {base!r}")
    _refuse_reversed_range(repo, base or base_sha, head, base_sha, head_sha)
    name = _repository_name(repo, repository)
    report = None
    if coverage is not None:
        try:
            report = parse_coverage(
                coverage.read_bytes(), coverage_format, repo_paths=repo_paths(repo, head_sha)
            )
        except (OSError, CoverageError) as error:
            raise fail(f"{coverage}: {error}") from None
    rules = MessageRules()
    # kept in the repository's git directory and extended with new commits only
    index = local_index(repo, [base_sha] if base_sha != head_sha else [], rules)
    services, notes = repo_services(repo, base_sha)
    # the repository's own changes before this one, scored once and kept in its git directory
    distribution = ensure(
        local_scores_file(repo),
        repo,
        base_sha,
        model,
        index=index,
        now=commit_time(repo, base_sha),
        rules=rules,
    )
    # the policy in force before the change, as the App reads the default branch's
    policy, policy_notes = repo_policy(repo, base_sha)
    result = assess_change(
        repo,
        base_sha,
        head_sha,
        model,
        index=index,
        services=services,
        rules=rules,
        coverage=report,
        notes=notes + policy_notes,
        policy=policy,
        distribution=distribution,
    )
    assessment_id = None
    if record:
        from gate.store import Database  # SQLAlchemy: a third of the imports, only to record

        db = Database(configured.database_url)
        db.migrate()
        assessment_id = _record(db, name, result)
        db.dispose()
    if as_json:
        print(
            json.dumps(
                {
                    "id": assessment_id,
                    "score": round(result.score.probability, 4),
                    "level": result.decision.level,
                    "decision": result.decision.verdict,
                    "rank": result.decision.rank,
                    "reasons": [reason.text for reason in result.reasons],
                    "steps": [step.to_json() for step in result.advice.steps],
                    "advice": result.suggestions,
                    "rules": result.decision.rules,
                    "features": result.features.values,
                    "notes": result.features.notes,
                    "model_version": result.model_version,
                }
            )
        )
        return
    _print_assessment(name, base_sha, head_sha, result, assessment_id)


def _print_assessment(
    name: str, base: str, head: str, result: AssessmentResult, assessment_id: int | None
) -> None:
    colour = {"low": "green", "medium": "yellow", "high": "red"}[result.decision.level]
    console.print(
        f"[bold {colour}]{result.decision.level.upper()}[/] risk {result.score.probability:.2f} "
        f"-> {result.decision.verdict}   {name} {base[:10]}..{head[:10]}"
    )
    if result.decision.rank:
        console.print(f"  {result.decision.rank}")
    for reason in result.reasons:
        console.print(f"  - {reason.text}")
    if not result.reasons:
        console.print("  nothing in this change stands out as risky")
    for advice in result.suggestions:
        console.print(f"  [dim]to lower it:[/] {advice}")
    for note in result.features.notes:
        console.print(f"  [dim]note:[/] {note}")
    recorded = f", recorded as assessment {assessment_id}" if assessment_id else ""
    console.print(f"[dim]model {result.model_version}{recorded}[/]")


def _repository_name(repo: Path, given: str | None) -> str:
    """OWNER/NAME as the App would know it: --repository, else the origin remote when it names a
    hosted repository, else local/DIRECTORY (which audit, report and pending accept)."""
    from gate.git.remote import origin_name
    from gate.reports.inputs import ReportError, check_repository

    if given is not None:
        try:
            return check_repository(given)
        except ReportError as error:
            raise fail(f"--repository: {error}") from None
    return origin_name(repo) or f"local/{repo.name}"


def _refuse_reversed_range(repo: Path, base: str, head: str, base_sha: str, head_sha: str) -> None:
    """A base newer than head scores the change backwards (its additions as deletions): say so."""
    from gate.git.cmd import GitError, git

    if base_sha == head_sha:
        return
    try:
        git(repo, "merge-base", "--is-ancestor", head_sha, base_sha)
    except GitError:
        return  # head is not an ancestor of base: the range runs forwards
    raise fail(f"--base {base} is newer than --head {head}: the range is reversed; swap them")


def _record(db: Database, name: str, result: AssessmentResult) -> int:
    """Store the assessment and its audit entry, as the App records a decision."""
    from gate.store import audit
    from gate.store.assessments import record_local

    assessment_id = record_local(
        db, name, {"base_sha": result.base, "head_sha": result.head, **result.row_fields()}
    )
    audit.record(
        db,
        actor="cli",
        action="assessment.decided",
        reason=f"Risk {result.decision.level}: {result.score.probability:.2f} -> "
        f"{result.decision.verdict}: " + "; ".join(r.text for r in result.reasons),
        repository=name,
        sha=result.head,
        subject=f"local {result.base[:10]}..{result.head[:10]}",
        assessment_id=assessment_id,
        model_version=result.model_version,
    )
    return assessment_id
