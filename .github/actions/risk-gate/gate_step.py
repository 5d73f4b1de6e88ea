"""The riskgate action's step: OIDC token -> POST /api/v1/assessments -> summary -> pass or fail."""

import base64
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

POLL_SECONDS = float(os.environ.get("RISKGATE_POLL_SECONDS") or 20)
POLICY = os.path.join(".github", "risk-gate.yml")


class Unreachable(Exception):
    """riskgate did not answer at all (refused, timed out, no such host)."""


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def call(method: str, url: str, token: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "riskgate-action",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        detail = error.read().decode("utf-8", "replace")[:2000]
        sys.exit(f"riskgate answered {error.code}: {detail}")
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        raise Unreachable(str(getattr(error, "reason", error))) from None


def on_error() -> str:
    """The repository policy's on_error (fail-open unless it says fail-closed)."""
    path = os.path.join(env("GITHUB_WORKSPACE", "."), POLICY)
    try:
        with open(path, encoding="utf-8") as policy:
            found = re.search(r"^on_error:\s*[\"']?(fail-open|fail-closed)", policy.read(), re.M)
    except OSError:
        return "fail-open"
    return found.group(1) if found else "fail-open"


def unreachable(base_url: str, why: str) -> int:
    """Say so in one line, then do what the policy says for an unassessed change."""
    policy = on_error()
    verdict = "fails this step" if policy == "fail-closed" else "lets this change through"
    line = f"riskgate at {base_url} did not answer ({why}): on_error {policy} {verdict}"
    print(f"::{'error' if policy == 'fail-closed' else 'warning'}::{line}")
    write("GITHUB_STEP_SUMMARY", f"### riskgate: not assessed\n\n{line}")
    return 1 if policy == "fail-closed" else 0


def oidc_token(audience: str) -> str:
    request_url, request_token = (
        env("ACTIONS_ID_TOKEN_REQUEST_URL"),
        env("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    )
    if not request_url or not request_token:
        sys.exit("no OIDC token: give the job `permissions: id-token: write`")
    separator = "&" if "?" in request_url else "?"
    url = f"{request_url}{separator}audience={urllib.parse.quote(audience)}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {request_token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["value"]


def write(path_variable: str, text: str) -> None:
    path = env(path_variable)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(text + "\n")


def summary(result: dict) -> str:
    lines = [
        f"### riskgate: {result['decision']} (risk {result['level']}, {result['score']:.2f})",
        "",
    ]
    lines += [f"- {reason}" for reason in result.get("reasons", [])] or ["- nothing stands out"]
    lines += ["", f"[Details]({result['details_url']})"]
    return "\n".join(lines)


def main() -> int:
    base_url = env("RISKGATE_URL").rstrip("/")
    audience = env("RISKGATE_AUDIENCE", "riskgate")
    token = oidc_token(audience)
    body = {
        "repository": env("RISKGATE_REPOSITORY"),
        "base": env("RISKGATE_BASE"),
        "head": env("RISKGATE_HEAD"),
        "kind": env("RISKGATE_KIND", "pr"),
    }
    if env("RISKGATE_ENVIRONMENT"):
        body["environment"] = env("RISKGATE_ENVIRONMENT")
    coverage = env("RISKGATE_COVERAGE_FILE")
    if coverage and not os.path.isfile(coverage):
        print(
            f"::warning::no coverage file at {coverage} (did the test step write it?): "
            "the change is scored without coverage"
        )
    elif coverage:
        with open(coverage, "rb") as report:
            body["coverage"] = {
                "format": env("RISKGATE_COVERAGE_FORMAT") or None,
                "content_base64": base64.b64encode(report.read()).decode(),
            }
    try:
        result = call("POST", f"{base_url}/api/v1/assessments", token, body)
    except Unreachable as error:
        return unreachable(base_url, str(error))
    write("GITHUB_STEP_SUMMARY", summary(result))
    for name, key in (("decision", "decision"), ("score", "score"), ("details-url", "details_url")):
        write("GITHUB_OUTPUT", f"{name}={result[key]}")
    if result["decision"] != "hold":
        return 0
    if env("RISKGATE_WAIT") != "true":
        print(f"::error::riskgate held this change: {'; '.join(result['reasons'])}")
        return 1
    deadline = time.monotonic() + 60 * float(env("RISKGATE_WAIT_MINUTES", "60"))
    while time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        # a fresh token each time: the job's tokens expire long before an approver may answer
        try:
            state = call(
                "GET", f"{base_url}/api/v1/assessments/{result['id']}", oidc_token(audience)
            )
        except Unreachable as error:  # a restart or a blip: the next look may get through
            print(f"riskgate did not answer ({error}); trying again")
            continue
        if state.get("resolution") in ("approved", "rejected", "expired"):
            write("GITHUB_STEP_SUMMARY", f"\n**{state['resolution']}** by an approver.")
            return 0 if state["resolution"] == "approved" else 1
    print("::error::no approver answered in time")
    return 1


if __name__ == "__main__":
    sys.exit(main())
