"""The model card is written from the artifact and the evaluation, never by hand."""

from __future__ import annotations

import json
from pathlib import Path

from training.model_card import CARD, EVALUATION, MODEL, main, render


def _bundled() -> tuple[dict, dict | None]:
    artifact = json.loads((MODEL / "artifact.json").read_text())
    evaluation = json.loads(EVALUATION.read_text()) if EVALUATION.is_file() else None
    return artifact, evaluation


def test_data_readme_is_the_card_of_the_bundled_artifact() -> None:
    assert CARD.read_text() == render(*_bundled()), "run: python -m training.model_card"


def test_the_card_names_what_the_model_learnt_from() -> None:
    artifact, evaluation = _bundled()
    card = render(artifact, evaluation)

    assert artifact["model_version"] in card
    for name, repo in artifact["training"]["data"]["repositories"].items():
        assert f"| {name} | `{repo['newest_commit'][:12]}`" in card
        assert f"{repo['labelled']:,}" in card
    for name, row in artifact["training"]["leave_one_project_out"].items():
        assert f"| {name} | {row['rows']:,} | {row['failing']:,} | {row['auc']:.3f}" in card


def test_the_card_follows_a_changed_artifact(tmp_path: Path) -> None:
    artifact, _ = _bundled()
    artifact["model_version"] = "another-model-9"
    (tmp_path / "artifact.json").write_text(json.dumps(artifact))

    main(["--model", str(tmp_path), "--evaluation", str(tmp_path / "none.json"),
          "--out", str(tmp_path / "README.md")])  # fmt: skip

    card = (tmp_path / "README.md").read_text()
    assert card.startswith("# Model card: `another-model-9`")
    assert "No evaluation against ApacheJIT's labels" in card
