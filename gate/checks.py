"""What the PR risk check and commit status say: pure rendering, no I/O."""

from __future__ import annotations

from typing import Any

from gate.assess import AssessmentResult
from gate.model import Level

CHECK_NAME = "risk-gate"
STATUS_CONTEXT = "risk-gate/pr"
LABEL_PREFIX = "risk:"
LABELS = [f"{LABEL_PREFIX}{level}" for level in ("low", "medium", "high")]

# GitHub's limits: summary/text 65,535 characters; status description 140 (a 422 beyond)
MAX_SUMMARY = 65_535
MAX_STATUS_DESCRIPTION = 140

CONCLUSION: dict[Level, str] = {"low": "success", "medium": "neutral", "high": "action_required"}
STATUS_STATE: dict[Level, str] = {"low": "success", "medium": "success", "high": "pending"}


def title(result: AssessmentResult) -> str:
    return f"Risk {result.score.level}: {result.score.probability:.2f}"


def summary(result: AssessmentResult, details_url: str) -> str:
    lines = [f"**{title(result)}**. {_verdict_words(result)}", ""]
    if result.reasons:
        lines += ["What raised the risk:", *[f"- {reason.text}" for reason in result.reasons], ""]
    else:
        lines += ["Nothing in this change stands out as risky.", ""]
    if result.suggestions:
        lines += ["What would lower it:", *[f"- {advice}" for advice in result.suggestions], ""]
    if result.features.notes:
        lines += ["Notes:", *[f"- {note}" for note in result.features.notes], ""]
    lines.append(
        f"Model `{result.model_version}`. The score is the estimated chance that a change like "
        "this one introduces a defect, calibrated on six large open-source projects: read it as "
        f"a ranking against them, not as a forecast for this repository. [Details]({details_url})"
    )
    return truncate("\n".join(lines), MAX_SUMMARY)


def _verdict_words(result: AssessmentResult) -> str:
    return {
        "pass": "Low risk: passed automatically.",
        "review": "Medium risk: worth a careful review; not blocking.",
        "hold": "High risk: held until a release manager approves.",
    }[result.decision.verdict]


def check_run_body(
    result: AssessmentResult, head_sha: str, details_url: str, external_id: str
) -> dict[str, Any]:
    return {
        "name": CHECK_NAME,
        "head_sha": head_sha,
        "status": "completed",
        "conclusion": CONCLUSION[result.score.level],
        "details_url": details_url,
        "external_id": external_id,
        "output": {
            "title": title(result),
            "summary": summary(result, details_url),
            "text": features_table(result),
        },
    }


def in_progress_body(head_sha: str, details_url: str, external_id: str) -> dict[str, Any]:
    return {
        "name": CHECK_NAME,
        "head_sha": head_sha,
        "status": "in_progress",
        "details_url": details_url,
        "external_id": external_id,
        "output": {"title": "Assessing risk", "summary": "Scoring this change; back in seconds."},
    }


def failed_body(message: str, details_url: str) -> dict[str, Any]:
    return {
        "status": "completed",
        "conclusion": "neutral",
        "details_url": details_url,
        "output": {
            "title": "Risk not assessed",
            "summary": truncate(
                f"riskgate could not assess this change: {message}\n\n"
                "Nothing is held because of this; the error is recorded.",
                MAX_SUMMARY,
            ),
        },
    }


def features_table(result: AssessmentResult) -> str:
    rows = ["| feature | value | effect on risk (log-odds) |", "|---|---:|---:|"]
    for name, value in result.features.values.items():
        effect = result.score.contributions.get(name)
        shown_value = "missing" if value is None else f"{value:,.2f}".rstrip("0").rstrip(".")
        rows.append(f"| {name} | {shown_value} | {'' if effect is None else f'{effect:+.3f}'} |")
    return truncate("\n".join(rows), MAX_SUMMARY)


def status_body(result: AssessmentResult, details_url: str) -> dict[str, Any]:
    reasons = ", ".join(reason.text for reason in result.reasons) or "nothing stands out"
    return {
        "state": STATUS_STATE[result.score.level],
        "target_url": details_url,
        "description": truncate(f"{title(result)}: {reasons}", MAX_STATUS_DESCRIPTION),
        "context": STATUS_CONTEXT,
    }


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
