"""Webhook handling: the intake stores deliveries; handlers act on them from the worker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gate.context import Services
from gate.store.tables import Delivery
from gate.webhooks import (
    deployments,
    incidents,
    installation,
    pull_request,
    push,
    votes,
    workflow_run,
)


@dataclass(frozen=True)
class Handler:
    handle: Callable[[Services, Delivery, dict[str, Any]], None]
    give_up: Callable[[Services, Delivery, dict[str, Any], str], None] | None = None


_HANDLERS: dict[tuple[str, str | None], Handler] = {
    ("pull_request", action): Handler(pull_request.handle, pull_request.give_up)
    for action in pull_request.ACTIONS
} | {
    ("push", None): Handler(push.handle),
    ("workflow_run", "completed"): Handler(workflow_run.handle),
    ("installation", "created"): Handler(installation.handle),
    ("installation_repositories", "added"): Handler(installation.handle),
    ("issue_comment", "created"): Handler(incidents.on_comment),
    ("check_run", "requested_action"): Handler(votes.on_button),
    ("deployment_protection_rule", "requested"): Handler(
        deployments.on_protection_rule, deployments.give_up_protection_rule
    ),
    ("deployment_status", "created"): Handler(deployments.on_deployment_status),
    ("issues", "closed"): Handler(incidents.on_issue_closed),
}


def handler_for(event: str, action: str | None) -> Handler | None:
    """The handler of an event and action; None for deliveries that are stored and ignored."""
    return _HANDLERS.get((event, action))
