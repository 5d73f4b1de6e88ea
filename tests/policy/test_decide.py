"""decide(): every rule of the policy, as a pure function."""

from __future__ import annotations

from datetime import UTC, datetime

from gate.policy.config import parse_policy
from gate.policy.decide import DecisionContext, decide

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # a Friday


def policy(text: str):
    result = parse_policy(text)
    assert result.ok, result.errors
    return result.policy


def at(paths, now=NOW) -> DecisionContext:
    return DecisionContext(paths=paths, now=now)


def test_without_a_policy_the_model_level_decides():
    assert [
        decide(0.5, level, None, at(["a.py"])).verdict for level in ("low", "medium", "high")
    ] == ["pass", "review", "hold"]


def test_policy_thresholds_replace_the_models():
    own = policy("thresholds:\n  pass_below: 0.3\n  hold_at_or_above: 0.4\n")
    decision = decide(0.45, "medium", own, at(["a.py"]))
    assert (decision.level, decision.verdict) == ("high", "hold")
    assert "policy thresholds" in decision.rules[0]


def test_always_hold_beats_never_hold_and_low_risk():
    both = policy('always_hold: ["db/migrations/**"]\nnever_hold: ["db/**"]\n')
    decision = decide(0.01, "low", both, at(["db/migrations/1.sql"]))
    assert decision.verdict == "hold" and "always_hold: db/migrations/1.sql" in decision.rules[-1]


def test_never_hold_applies_only_when_every_path_matches():
    docs = policy('never_hold: ["docs/**"]\n')
    assert decide(0.9, "high", docs, at(["docs/a.md", "docs/b.md"])).verdict == "review"
    assert decide(0.9, "high", docs, at(["docs/a.md", "src/b.py"])).verdict == "hold"


def test_a_freeze_holds_everything_above_low_but_never_docs_only_changes():
    frozen = policy(
        'never_hold: ["docs/**"]\nfreeze:\n  - days: [fri, sat, sun]\n    start: "00:00"\n'
        '    end: "23:59"\n    timezone: Europe/Berlin\n    reason: weekend\n'
    )
    assert decide(0.3, "medium", frozen, at(["src/a.py"])).verdict == "hold"
    assert decide(0.05, "low", frozen, at(["src/a.py"])).verdict == "pass"
    assert decide(0.3, "medium", frozen, at(["docs/a.md"])).verdict == "review"
    monday = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert decide(0.3, "medium", frozen, at(["src/a.py"], monday)).verdict == "review"


def test_shadow_mode_always_passes_and_says_what_it_would_do():
    shadow = policy('mode: shadow\nalways_hold: ["**"]\n')
    decision = decide(0.9, "high", shadow, at(["a.py"]))
    assert (decision.verdict, decision.would, decision.effective) == ("pass", "hold", "hold")
