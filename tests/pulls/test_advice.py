"""What would lower the risk: steps applied to the change's features and rescored, never a guess."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from gate.features import FeatureVector
from gate.features.diff import FileChange
from gate.policy.exposure import ExposureFacts
from gate.pulls.advice import Change, Outcome, advise


def files(*specs: tuple[str, int]) -> list[FileChange]:
    return [FileChange(path, added, 0, 1) for path, added in specs]


def by_size(vector: FeatureVector, facts: ExposureFacts | None, paths: Sequence[str]) -> Outcome:
    """A stand-in model whose risk grows with lines added (the real one is tested end to end)."""
    la = vector.values.get("la") or 0.0
    probability = min(0.99, la / 1000)
    level = "high" if probability >= 0.5 else "medium" if probability >= 0.2 else "low"
    verdict = {"high": "hold", "medium": "review", "low": "pass"}[level]
    return Outcome(probability, level, verdict)


def recompute(changes: Sequence[FileChange]) -> FeatureVector:
    return FeatureVector({"la": float(sum(c.added for c in changes))})


def advice_for(changes: list[FileChange]):
    vector = recompute(changes)
    now = by_size(vector, None, [])
    return advise(Change(changes, vector, None, {}, now, []), by_size, recompute, None, 0.6)


@pytest.mark.parametrize(
    "changes",
    [
        files(("docs/guide.md", 900), ("README.md", 300)),
        files(("tests/test_a.py", 700), ("tests/test_b.py", 500)),
        files(("package-lock.json", 1100), ("web/yarn.lock", 12)),
    ],
    ids=["docs-only", "tests-only", "lock-files-only"],
)
def test_changes_without_source_code_are_never_told_to_split(changes):
    advice = advice_for(changes)
    assert not [s for s in advice.steps if s.kind.startswith("split")]


def test_tests_stay_with_the_code_they_test():
    changes = files(
        ("shop/cart.py", 300), ("tests/test_cart.py", 200), ("libs/fmt.py", 300), ("CHANGES.md", 5)
    )
    advice = advice_for(changes)
    (split,) = [s for s in advice.steps if s.kind == "split_area"]
    assert "move the changes to libs/ into their own pull request, apart from shop/" in split.action
    # the part kept here holds the cart, its test and the changelog: 505 lines
    assert split.after.probability == pytest.approx(0.505)


def test_a_lock_file_update_is_moved_out_and_the_step_shows_the_new_score():
    changes = files(("app/main.py", 150), ("package-lock.json", 900))
    advice = advice_for(changes)
    step = next(s for s in advice.steps if s.kind == "split_mechanical")
    assert "move the lock-file update (`package-lock.json`)" in step.action
    assert step.after.probability == pytest.approx(0.15)  # what stays: the source change
    assert step.text == step.action + ": high 0.99 -> low 0.15, pass instead of hold"


def test_every_step_lowers_the_score_or_the_verdict():
    changes = files(*[(f"src/m{n}.py", 150) for n in range(8)])
    advice = advice_for(changes)
    assert advice.steps
    for step in advice.steps:
        assert step.after.probability < step.before.probability


def test_a_hold_with_no_step_is_told_why():
    changes = files(("src/one.py", 800))
    advice = advice_for(changes)
    assert advice.steps == []
    assert advice.none_because is not None
    assert "An approver can release it" in advice.none_because
