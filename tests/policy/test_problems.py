"""Problems as text, the result's ok, and errors in line order with the given filename."""

from __future__ import annotations

from gate.policy.config import parse_policy
from gate.policy.problems import PolicyProblem, PolicyResult


def test_problem_text():
    assert str(PolicyProblem(12, "thresholds.pass_below", "too big")) == (
        ".github/risk-gate.yml line 12, thresholds.pass_below: too big"
    )
    assert str(PolicyProblem(None, "", "too big", "x.yml")) == "x.yml: too big"
    assert str(PolicyProblem(3, "", "bad")) == ".github/risk-gate.yml line 3: bad"
    assert str(PolicyProblem(None, "approvers", "none")) == ".github/risk-gate.yml, approvers: none"
    assert PolicyResult(None, [PolicyProblem(1, "", "x")], []).ok is False


def test_errors_come_in_line_order_and_use_the_given_filename():
    result = parse_policy(
        "on_error: nope\nmode: nope\nhold_expiry_hours: 0\n", filename="repo/risk-gate.yml"
    )
    assert [problem.line for problem in result.errors] == [1, 2, 3]
    assert str(result.errors[0]).startswith("repo/risk-gate.yml line 1, on_error: ")
