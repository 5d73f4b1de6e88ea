"""`rollback:` in risk-gate.yml: what is accepted, what is refused (with lines), and the plan."""

from __future__ import annotations

from gate.deploys.watch import _looks_due, plan_watch
from gate.policy.config import parse_policy
from gate.policy.rollback import RollbackPolicy

GOOD = """\
rollback:
  prometheus: {url: "http://prom:9090"}
  action: {workflow: rollback.yml, inputs: {sha: "{{last_good_sha}}"}}
  slis:
    - name: errors
      kind: error_ratio
      services: [api, web]
      errors: 'sum(increase(x{service="{{service}}",env="{{environment}}",code="500"}[{{step}}]))'
      requests: 'sum(increase(x{service="{{service}}",env="{{environment}}"}[{{step}}]))'
    - name: cpu
      kind: saturation
      query: 'max(cpu{version="{{version}}"})'
      environments: [production]
"""


def rollback(text: str) -> RollbackPolicy:
    result = parse_policy(text)
    assert result.errors == [], [str(e) for e in result.errors]
    assert result.policy is not None and result.policy.rollback is not None
    return result.policy.rollback


def alert_only_sli(sli: str) -> str:
    return f"rollback:\n  act: false\n  slis:\n    - {sli}\n"


def problem(text: str) -> tuple[int | None, str, str]:
    result = parse_policy(text)
    assert result.policy is None and len(result.errors) == 1, result.errors
    error = result.errors[0]
    return error.line, error.field, error.message


def test_the_plan_renders_every_placeholder_per_service_and_environment():
    policy = rollback(GOOD)
    plan = plan_watch(policy, "production", "0123456789abcdef", "fedcba9876543210")
    assert plan is not None
    assert [m["name"] for m in plan["metrics"]] == ["errors (api)", "errors (web)", "cpu"]
    api = plan["metrics"][0]
    assert api["kind"] == "errors" and api["service"] == "api"
    assert api["canary"]["errors"] == (
        'sum(increase(x{service="api",env="production",code="500"}[60s]))'
    )
    assert api["baseline"] == api["canary"]  # baseline "before": same queries, earlier window
    assert plan["metrics"][2]["canary"]["query"] == 'max(cpu{version="0123456"})'
    assert plan["action"]["inputs"] == {"sha": "{{last_good_sha}}"}  # filled at rollback time
    staging = plan_watch(policy, "staging", "0123456789abcdef", None)
    assert staging is not None and [m["name"] for m in staging["metrics"]] == [
        "errors (api)",
        "errors (web)",
    ]


def test_side_by_side_compares_with_the_last_good_version():
    text = GOOD.replace("  slis:", "  baseline: side_by_side\n  slis:").replace(
        "'sum(increase(x{service", '\'sum(increase(x{version="{{version}}",service'
    )
    plan = plan_watch(rollback(text), "production", "aaaaaaaaaa", "bbbbbbbbbb")
    assert plan is not None and plan["baseline"] == "side_by_side"
    assert 'version="bbbbbbb"' in plan["metrics"][0]["baseline"]["errors"]
    assert 'version="aaaaaaa"' in plan["metrics"][0]["canary"]["errors"]
    # no earlier deploy: nothing to run beside, so the window before the deploy it is
    first = plan_watch(rollback(text), "production", "aaaaaaaaaa", None)
    assert first is not None and first["baseline"] == "before" and first["notes"]


def test_side_by_side_needs_queries_that_tell_versions_apart():
    text = GOOD.replace("  slis:", "  baseline: side_by_side\n  slis:")
    _, field, message = problem(text)
    assert field == "rollback" and "must select by {{version}}" in message and "'errors'" in message


def test_nothing_to_watch_without_prometheus_or_slis():
    assert plan_watch(rollback("rollback:\n  watch_minutes: 5\n"), "prod", "a" * 40, None) is None
    no_url = GOOD.replace('  prometheus: {url: "http://prom:9090"}\n', "")
    assert plan_watch(rollback(no_url), "production", "a" * 40, None) is None


def test_each_kind_needs_its_queries():
    bad = "\n".join(line for line in GOOD.splitlines() if "requests:" not in line)
    line, field, message = problem(bad)
    assert (line, field) == (5, "rollback.slis[0]")  # the SLI's line
    assert "error_ratio SLI has `errors` and `requests`" in message
    latency = alert_only_sli("{name: p90, kind: latency, errors: 'x'}")
    assert "one `query`" in problem(latency)[2]


def test_unknown_placeholders_and_wrong_directions_are_refused():
    typo = GOOD.replace("{{environment}}", "{{enviroment}}", 1)
    assert "unknown placeholder {{enviroment}}" in problem(typo)[2]
    down = alert_only_sli("{name: e, kind: error_count, query: x, direction: decrease}")
    assert "errors only regress upwards" in problem(down)[2]
    no_services = alert_only_sli("{name: l, kind: latency, query: 'x{s=\"{{service}}\"}'}")
    assert "list the services it takes" in problem(no_services)[2]


def test_acting_needs_an_action_in_every_environment():
    no_action = GOOD.replace(
        '  action: {workflow: rollback.yml, inputs: {sha: "{{last_good_sha}}"}}\n', ""
    )
    assert "act is true but no action says how to roll back" in problem(no_action)[2]
    alert_only = no_action.replace("rollback:\n", "rollback:\n  act: false\n")
    assert rollback(alert_only).settings_for("production").act is False
    overridden = alert_only + "  environments:\n    production: {act: true}\n"
    message = problem(overridden)[2]
    assert "environment 'production': act is true but no action" in message


def test_an_action_is_a_workflow_or_a_redeploy_not_both():
    both = GOOD.replace("{workflow: rollback.yml,", "{workflow: rollback.yml, redeploy: true,")
    assert "not both" in problem(both)[2]
    redeploy = GOOD.replace(
        '{workflow: rollback.yml, inputs: {sha: "{{last_good_sha}}"}}', "{redeploy: true}"
    )
    assert rollback(redeploy).settings_for("production").action.redeploy is True
    assert (
        "unknown placeholder {{last_good}}"
        in problem(GOOD.replace("{{last_good_sha}}", "{{last_good}}"))[2]
    )


def test_environment_overrides_fall_back_to_the_defaults():
    text = GOOD + "  environments:\n    staging: {watch_minutes: 10, act: false}\n"
    policy = rollback(text)
    staging, production = policy.settings_for("staging"), policy.settings_for("production")
    assert (staging.watch_minutes, staging.act, staging.step_seconds) == (10, False, 60)
    assert (production.watch_minutes, production.act) == (30, True)
    assert staging.prometheus == production.prometheus


def test_looks_due_catch_up_step_by_step_and_end_at_the_window():
    # deployed at 1000, 60 s steps, 5 minute window (ends 1300)
    assert _looks_due(1000, 60, 0, 1059, 1300) == []
    assert _looks_due(1000, 60, 0, 1185, 1300) == [1060, 1120, 1180]
    assert _looks_due(1000, 60, 3, 1185, 1300) == []
    assert _looks_due(1000, 60, 3, 1300, 1300) == [1240, 1300]
    # a window that is not a whole number of steps still ends with a look at its end
    assert _looks_due(1000, 60, 0, 1090, 1090) == [1060, 1090]
