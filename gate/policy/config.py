"""Parse `.github/risk-gate.yml` into a Policy; every problem has its line; never raises."""

from __future__ import annotations

from gate.policy.document import load_document
from gate.policy.problems import POLICY_PATH, PolicyResult, Problems
from gate.policy.validation import validate


def parse_policy(text: str, filename: str = POLICY_PATH) -> PolicyResult:
    """Validate the file's text; problems carry line numbers; never raises on any text."""
    problems = Problems(filename)
    document = load_document(text, problems)
    policy = None if document is None else validate(document, problems)
    return problems.result(policy)
