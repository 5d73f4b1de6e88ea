"""The audit trail as a person reads it: per pull request and commit, what happened and why."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, tzinfo
from typing import TextIO

from gate.reports.inputs import ReportError, check_repository, parse_when
from gate.store import queries
from gate.store.db import Database
from gate.store.tables import AuditEntry

# how the service words an assessment.decided reason: "Risk high: 0.71 -> hold: r1; r2"
DECIDED = re.compile(
    r"^Risk (?P<level>\w+): (?P<score>\d+(?:\.\d+)?) -> (?P<verdict>\w+)[^:]*(?::\s*(?P<why>.*))?$",
    re.S,
)
# a check conclusion or commit status state at the front of a reason: "success: ..."
STATE = re.compile(
    r"^(?P<state>success|failure|neutral|action_required|pending|error|cancelled|skipped|"
    r"timed_out|stale)\b:?\s*(?P<rest>.*)$",
    re.S,
)
VERDICT_WORDS = {"pass": "passed", "review": "sent to review", "hold": "held"}
SHADOW_WOULD = {"pass": "passed it", "review": "sent it to review", "hold": "held it"}
VOTE_NOUNS = {"approve": "approval", "reject": "rejection"}
VIA = {"button": "the check's {verb} button", "api": "the API", "cli": "the CLI"}
# what the service does to the check and status when a hold is settled (checks.resolved_body)
SETTLED = {
    "hold.approved": ("hold released", "success"),
    "hold.rejected": ("hold closed", "failure"),
}


def _shown_actor(actor: str) -> str:
    return actor if actor.startswith("@") else f"@{actor}"


def _decided(entry: AuditEntry) -> str:
    details = entry.details or {}
    match = DECIDED.match(entry.reason or "")
    if match is None and "verdict" not in details:
        return f"decided: {entry.reason}"
    found = match.groupdict() if match else {}
    level = details.get("level", found.get("level"))
    score = details.get("score", found.get("score"))
    verdict = details.get("verdict", found.get("verdict"))
    why = found.get("why") or "nothing stands out"
    verb = VERDICT_WORDS.get(str(verdict), str(verdict))
    would = details.get("would") or details.get("would_decide")
    if details.get("mode") == "shadow" or would:
        verb = f"passed in shadow mode (enforcing would have {SHADOW_WOULD.get(would, would)})"
    risk = f"{level} risk" + ("" if score is None else f" {float(score):.2f}")
    return f"{verb}: {risk} — {why}"


def _vote(entry: AuditEntry) -> tuple[str | None, str]:
    """The vote's verdict and the reason without the "approve: " the service puts before it."""
    verdict = (entry.details or {}).get("verdict")
    head, _, rest = (entry.reason or "").partition(": ")
    if head in VOTE_NOUNS and verdict in (None, head):
        return head, rest
    return verdict, entry.reason or ""


def _approval(entry: AuditEntry) -> str:
    verdict, reason = _vote(entry)
    verdict = verdict or "approve"
    verb = "rejected" if verdict == "reject" else "approved"
    source = (entry.details or {}).get("source")
    if source == "comment":
        via = f"/gate {verdict}"
    else:
        via = VIA.get(str(source), str(source)).format(verb=verdict.capitalize())
    said = f": '{reason}'" if reason else ""
    return f"{verb} by {_shown_actor(entry.actor)}" + (f" via {via}" if source else "") + said


def _refused(entry: AuditEntry) -> str:
    verdict, reason = _vote(entry)
    noun = VOTE_NOUNS.get(verdict or "", "vote")
    return f"{noun} by {_shown_actor(entry.actor)} refused: {reason}"


def _settled(entry: AuditEntry) -> str:
    what, state = SETTLED[entry.action]
    return f"{what}, check set to {state}" + (f" — {entry.reason}" if entry.reason else "")


def _state_change(what: str, entry: AuditEntry) -> str:
    conclusion = (entry.details or {}).get("conclusion")
    match = STATE.match(entry.reason or "")
    if conclusion is None and match is not None:
        conclusion, rest = match["state"], match["rest"]
    else:
        rest = entry.reason
    if conclusion is None:
        verb = "created" if entry.action.endswith("create") else "updated"
        return f"{what} {verb}: {rest}"
    return f"{what} set to {conclusion}" + (f" — {rest}" if rest else "")


def _label_removed(entry: AuditEntry) -> str:
    label, _, why = (entry.reason or "").partition(": ")
    return f"label {label} removed" + (f" ({why})" if why else "")


def describe(entry: AuditEntry) -> str:
    """One audit entry's action in words."""
    action, reason = entry.action, entry.reason
    match action:
        case "assessment.decided":
            return _decided(entry)
        case "approval.recorded":
            return _approval(entry)
        case "approval.refused":
            return _refused(entry)
        case "approval.ignored":
            return f"vote by {_shown_actor(entry.actor)} ignored: {reason}"
        case "hold.approved" | "hold.rejected":
            return _settled(entry)
        case "check_run.create" | "check_run.update":
            return _state_change("check", entry)
        case "status.create":
            return _state_change("commit status", entry)
        case "label.add":
            return f"label {reason} added"
        case "label.remove":
            return _label_removed(entry)
        case "check_run.give_up":
            return f"assessment failed: {reason}"
        case "policy.error":
            return f"policy error: {reason}"
        case "coverage.received":
            return f"coverage received: {reason}"
        case "coverage.refused":
            return f"coverage refused: {reason}"
    return f"{action}: {reason}"


def _model_version(entry: AuditEntry) -> str | None:
    return entry.model_version or (entry.details or {}).get("model_version")


def _versions_words(policy: str | None, model: str | None) -> str:
    parts = [f"{name} {value}" for name, value in (("policy", policy), ("model", model)) if value]
    return ", ".join(parts)


def _group_key(entry: AuditEntry) -> tuple[str, str]:
    subject = entry.subject or f"{entry.repository or 'no repository'} (no pull request)"
    return subject, entry.sha or ""


def _group_lines(entries: Sequence[AuditEntry], tz: tzinfo, width: int) -> list[str]:
    policy = next((e.policy_version for e in entries if e.policy_version), None)
    model = next((m for e in entries if (m := _model_version(e))), None)
    sha = entries[0].sha
    versions = _versions_words(policy, model)
    lines = [f"  commit {sha[:12] if sha else '(none)'}" + (f"  ({versions})" if versions else "")]
    for entry in entries:
        for name, now, was in (
            ("policy", entry.policy_version, policy),
            ("model", _model_version(entry), model),
        ):
            if now and now != was:
                lines.append(f"    {name} now {now} (was {was or 'unknown'})")
        policy = entry.policy_version or policy
        model = _model_version(entry) or model
        at = entry.at.astimezone(tz)
        lines.append(f"    {at:%Y-%m-%d %H:%M:%S}  {entry.actor:<{width}}  {describe(entry)}")
    return lines


def render_audit(entries: Iterable[AuditEntry], tz: tzinfo = UTC) -> str:
    """A timeline per subject (pull request), then per commit, oldest first; times in `tz`."""
    ordered = sorted(entries, key=lambda e: (e.at, e.id or 0))
    if not ordered:
        return "No audit entries.\n"
    groups: dict[tuple[str, str], list[AuditEntry]] = {}
    for entry in ordered:
        groups.setdefault(_group_key(entry), []).append(entry)
    by_subject: dict[str, list[list[AuditEntry]]] = {}
    for (subject, _sha), group in groups.items():
        by_subject.setdefault(subject, []).append(group)
    width = max(len(e.actor) for e in ordered)
    lines = [f"Times in {tz}."]
    for subject, commits in by_subject.items():
        lines += ["", subject]
        for group in commits:
            lines += _group_lines(group, tz, width)
    return "\n".join(lines) + "\n"


def audit_command(
    db: Database,
    repo: str,
    since: datetime | str | None,
    out: TextIO,
    err: TextIO | None = None,
) -> int:
    """`gate audit`: print a repository's audit trail; 2 on a bad repository or date."""
    try:
        check_repository(repo)
        start = None if since is None else parse_when(since, "since")
    except ReportError as error:
        print(f"error: {error}", file=err or sys.stderr)
        return 2
    entries = queries.decisions(db, repo, since=start)
    period = "" if start is None else f" since {start:%Y-%m-%d %H:%M} UTC"
    out.write(f"Audit trail for {repo}{period}. ")
    out.write(render_audit(entries) if entries else "No audit entries.\n")
    return 0
