"""deployment_protection_rule deliveries built from the schema in GitHub's webhooks description.

No captured delivery of this event exists publicly; real deployment and pull request payloads
supply the nested objects, and every payload built here is validated against the schema.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.conftest import real_payload
from tests.fakes import SHARED

WEBHOOKS_DESCRIPTION = SHARED / "conformance" / "github-openapi" / "api.github.com.webhooks.json"
SCHEMA = "webhook-deployment-protection-rule-requested"


@cache
def _validator() -> Draft202012Validator:
    document = json.loads(WEBHOOKS_DESCRIPTION.read_text())
    root = "urn:github-webhooks"
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry = Registry().with_resource(root, resource)
    schema = {"$ref": f"{root}#/components/schemas/{SCHEMA}"}
    return Draft202012Validator(schema, registry=registry)


def schema_errors(payload: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in _validator().iter_errors(payload)]


def protection_rule_payload(
    full_name: str,
    sha: str,
    *,
    environment: str = "production",
    run_id: int = 4242,
    deployment_id: int = 9001,
    pr_numbers: tuple[int, ...] = (),
    installation_id: int = 1,
) -> dict[str, Any]:
    pr = real_payload("pull_request", "opened")
    repository = pr["repository"]
    repository["full_name"] = full_name
    repository["default_branch"] = "master"
    deployment = real_payload("deployment", "created")["deployment"]
    deployment.update(id=deployment_id, sha=sha, environment=environment, ref="master")
    pulls = []
    for number in pr_numbers:
        pull = json.loads(json.dumps(pr["pull_request"]))
        pull["number"] = number
        pulls.append(pull)
    payload = {
        "action": "requested",
        "environment": environment,
        "event": "deployment",
        "deployment_callback_url": (
            f"https://api.github.com/repos/{full_name}/actions/runs/{run_id}"
            "/deployment_protection_rule"
        ),
        "deployment": deployment,
        "pull_requests": pulls,
        "repository": repository,
        "sender": pr["sender"],
        "installation": {"id": installation_id, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u"},
    }
    problems = schema_errors(payload)
    assert not problems, f"fixture does not match GitHub's schema: {problems[:3]}"
    return payload
