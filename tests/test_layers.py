"""The layer rule of README's Layout section, checked by import-linter against the real imports."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
GATE = ROOT / "gate"


def _lint(
    config: Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_the_layers_only_point_down():
    result = _lint(ROOT / "pyproject.toml", ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_a_lower_layer_importing_a_higher_one_breaks_the_contract(tmp_path: Path):
    copy = tmp_path / "checkout"
    shutil.copytree(ROOT / "gate", copy / "gate", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(
        ROOT / "training", copy / "training", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    offender = copy / "gate" / "store" / "db.py"
    offender.write_text(offender.read_text() + "\nfrom gate.pulls import assess  # noqa\n")
    result = _lint(copy / "pyproject.toml", copy, env={"PYTHONPATH": str(copy)})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "gate.store is not allowed to import gate.pulls" in result.stdout


def test_gate_keeps_at_most_ten_modules_of_its_own_and_none_over_600_lines():
    own = sorted(path.name for path in GATE.glob("*.py"))
    assert len(own) <= 10, own
    long = {
        str(path.relative_to(ROOT)): lines
        for folder in ("gate", "training")
        for path in (ROOT / folder).rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > 600
    }
    assert long == {}


def test_every_package_says_what_it_holds_and_may_import():
    layers = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert layers["contracts"][0]["type"] == "layers"
    for package in GATE.iterdir():
        init = package / "__init__.py"
        if package.is_dir() and init.is_file():
            text = init.read_text()
            assert text.startswith('"""'), f"{init} has no docstring"
