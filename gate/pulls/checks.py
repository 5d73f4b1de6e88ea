"""What the PR risk check and commit status say: pure rendering, no I/O."""

from __future__ import annotations

from typing import Any

from gate.pulls.assess import AssessmentResult

CHECK_NAME = "risk-gate"
STATUS_CONTEXT = "risk-gate/pr"
LABEL_PREFIX = "risk:"
LABELS = [f"{LABEL_PREFIX}{level}" for level in ("low", "medium", "high")]

# GitHub's limits: summary/text 65,535 characters; status description 140 (a 422 beyond)
MAX_SUMMARY = 65_535
MAX_STATUS_DESCRIPTION = 140

CONCLUSION: dict[str, str] = {"pass": "success", "review": "neutral", "hold": "action_required"}
STATUS_STATE: dict[str, str] = {"pass": "success", "review": "success", "hold": "pending"}


def title(result: AssessmentResult) -> str:
    return f"Risk {result.decision.level}: {result.score.probability:.2f}"


def summary(result: AssessmentResult, details_url: str) -> str:
    lines = [f"**{title(result)}**. {_verdict_words(result)}", ""]
    if result.decision.rank:
        lines += [f"This change is {result.decision.rank}.", ""]
    if result.reasons:
        lines += ["What raised the risk:", *[f"- {reason.text}" for reason in result.reasons], ""]
    else:
        lines += ["Nothing in this change stands out as risky.", ""]
    if result.suggestions:
        lines += ["What would lower it:", *[f"- {advice}" for advice in result.suggestions], ""]
    rules = result.decision.rules
    if len(rules) > 1 or (rules and not rules[0].startswith("model thresholds -> ")):
        lines += ["Policy:", *[f"- {rule}" for rule in result.decision.rules], ""]
    if result.features.notes:
        lines += ["Notes:", *[f"- {note}" for note in result.features.notes], ""]
    lines.append(
        f"Model `{result.model_version}`. The score is the estimated chance that a change like "
        "this one introduces a defect, calibrated on six large open-source projects: read it as "
        f"a ranking against them, not as a forecast for this repository. [Details]({details_url})"
    )
    return truncate("\n".join(lines), MAX_SUMMARY)


def _verdict_words(result: AssessmentResult) -> str:
    words = {
        "pass": "Passed automatically.",
        "review": "Worth a careful review; not blocking.",
        "hold": "Held until an approver releases it: use the Approve button above or comment "
        "`/gate approve <reason>`.",
    }
    if result.decision.mode == "shadow":
        return f"Shadow mode: passed; enforcing, riskgate would {result.decision.effective}."
    return words[result.decision.verdict]


def check_run_body(
    result: AssessmentResult, head_sha: str, details_url: str, external_id: str
) -> dict[str, Any]:
    held = result.decision.verdict == "hold"
    return {
        "name": CHECK_NAME,
        "head_sha": head_sha,
        "status": "completed",
        "conclusion": CONCLUSION[result.decision.verdict],
        "details_url": details_url,
        "external_id": external_id,
        "actions": HOLD_ACTIONS if held else [],
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
    steps = result.advice.steps
    if result.decision.effective != "pass" and steps:
        reasons = f"to lower it, {steps[0].action}"
    return {
        "state": STATUS_STATE[result.decision.verdict],
        "target_url": details_url,
        "description": truncate(f"{title(result)}: {reasons}", MAX_STATUS_DESCRIPTION),
        "context": STATUS_CONTEXT,
    }


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# the check's buttons while a change is held (GitHub: label <= 20, description <= 40 chars)
HOLD_ACTIONS = [
    {
        "label": "Approve",
        "description": "Release this change (approvers only)",
        "identifier": "approve",
    },
    {
        "label": "Reject",
        "description": "Reject this change (approvers only)",
        "identifier": "reject",
    },
]


def vote_lines(votes: list[tuple[str, str, str]]) -> list[str]:
    """(actor, verdict, reason) as lines for a summary."""
    verbs = {"approve": "approved", "reject": "rejected"}
    return [f"- @{actor} {verbs[verdict]}: {reason}" for actor, verdict, reason in votes]


def held_progress_body(
    title_text: str,
    approvals: int,
    required: int,
    votes: list[tuple[str, str, str]],
    approvers: str,
    details_url: str,
) -> dict[str, Any]:
    return {
        "status": "completed",
        "conclusion": "action_required",
        "details_url": details_url,
        "actions": HOLD_ACTIONS,
        "output": {
            "title": truncate(f"Held: {approvals} of {required} approvals ({title_text})", 255),
            "summary": truncate(
                "\n".join(
                    [
                        f"**Held.** {approvals} of {required} approvals so far.",
                        "",
                        *vote_lines(votes),
                        "",
                        f"Approvers: {approvers}. Approve with the button above or comment "
                        "`/gate approve <reason>`.",
                    ]
                ),
                MAX_SUMMARY,
            ),
        },
    }


def resolved_body(
    resolution: str, title_text: str, votes: list[tuple[str, str, str]], details_url: str
) -> dict[str, Any]:
    approved = resolution == "approved"
    people = ", ".join(
        f"@{actor}"
        for actor, verdict, _ in votes
        if verdict == ("approve" if approved else "reject")
    )
    return {
        "status": "completed",
        "conclusion": "success" if approved else "failure",
        "details_url": details_url,
        "actions": [],
        "output": {
            "title": truncate(
                f"{'Approved' if approved else 'Rejected'} by {people} ({title_text})", 255
            ),
            "summary": truncate(
                "\n".join(
                    [
                        f"**{'Released' if approved else 'Rejected'}** after a hold "
                        f"({title_text}).",
                        "",
                        *vote_lines(votes),
                    ]
                ),
                MAX_SUMMARY,
            ),
        },
    }


def resolved_status(
    resolution: str, votes: list[tuple[str, str, str]], details_url: str
) -> dict[str, Any]:
    approved = resolution == "approved"
    deciding = [v for v in votes if v[1] == ("approve" if approved else "reject")]
    actor, _, reason = deciding[-1]
    words = "Approved" if approved else "Rejected"
    return {
        "state": "success" if approved else "failure",
        "target_url": details_url,
        "description": truncate(f"{words} by @{actor}: {reason}", MAX_STATUS_DESCRIPTION),
        "context": STATUS_CONTEXT,
    }
