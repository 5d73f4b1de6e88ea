"""`gate assess`, `pending`, `audit` and `report` as a user runs them, on real repositories."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.cli.contract import assert_clear_error, env_for, small_repo
from tests.conftest import GATE_SCRIPT, gate

HOLD_ALL = 'mode: enforce\nalways_hold:\n  - "app/**"\n'


@pytest.mark.covers("assess --repo --base --head --json --repository", "pending", "audit --repo")
def test_an_assessment_is_recorded_under_its_name_audited_and_pending_when_held(tmp_path: Path):
    repo = small_repo(tmp_path / "shop")
    repo.commit("policy", {".github/risk-gate.yml": HOLD_ALL})
    head = repo.commit("change", {"app/main.py": "rewritten\n" * 50})
    env = env_for(tmp_path)
    done = gate(
        "assess",
        "--repo",
        str(repo.path),
        "--base",
        "HEAD~1",
        "--head",
        head,
        "--repository",
        "octo-org/shop",
        "--json",
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["decision"] == "hold" and isinstance(result["id"], int)

    pending = gate("pending", cwd=tmp_path, env=env)
    assert pending.returncode == 0, pending.stderr
    assert (
        f"local assessment {result['id']}" in pending.stdout and "octo-org/shop" in pending.stdout
    )

    audit = gate("audit", "--repo", "octo-org/shop", cwd=tmp_path, env=env)
    assert audit.returncode == 0, audit.stderr
    assert "octo-org/shop" in audit.stdout and "held" in audit.stdout


@pytest.mark.covers("assess --repo")
def test_the_name_comes_from_a_github_origin_and_a_local_clone_gets_local_name(tmp_path: Path):
    hosted = small_repo(tmp_path / "a", origin="git@github.com:octo-org/shop.git")
    local = small_repo(tmp_path / "flask", origin=str(tmp_path / "repos" / "flask"))
    env = env_for(tmp_path)
    for repo, name in ((hosted, "octo-org/shop"), (local, "local/flask")):
        done = gate("assess", "--repo", str(repo.path), cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stderr
        assert name in done.stdout.splitlines()[0]


@pytest.mark.covers("assess --repo --base --head --no-record")
def test_a_reversed_range_is_refused_saying_so(tmp_path: Path):
    repo = small_repo(tmp_path / "shop")
    args = ("assess", "--repo", str(repo.path), "--no-record")
    done = gate(*args, "--base", "HEAD", "--head", "HEAD~2", cwd=tmp_path, env=env_for(tmp_path))
    assert_clear_error(done, 2, "reversed", "swap")


@pytest.mark.covers("assess --repo --coverage --no-record")
def test_a_coverage_report_is_read_and_a_broken_one_refused(tmp_path: Path):
    repo = small_repo(tmp_path / "shop")
    report = tmp_path / "lcov.info"
    report.write_text(
        "SF:app/main.py\n" + "".join(f"DA:{n},1\n" for n in range(1, 91)) + "end_of_record\n"
    )
    args = ("assess", "--repo", str(repo.path), "--base", "HEAD~2", "--head", "HEAD~1")
    done = gate(*args, "--coverage", str(report), "--json", "--no-record", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "no coverage report for this commit" not in json.loads(done.stdout)["notes"]
    (tmp_path / "bad.xml").write_text("<nope")
    broken = gate(*args, "--coverage", str(tmp_path / "bad.xml"), "--no-record", cwd=tmp_path)
    assert_clear_error(broken, 2, "bad.xml")


@pytest.mark.covers("assess --repo")
def test_four_parallel_assessments_on_a_new_sqlite_database_all_succeed(tmp_path: Path):
    repo = small_repo(tmp_path / "shop")
    env = {**os.environ, "GATE_LOG_JSON": "false", **env_for(tmp_path)}
    runs = [
        subprocess.Popen(
            [str(GATE_SCRIPT), "assess", "--repo", str(repo.path), "--json"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [run.communicate(timeout=180) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0, 0], [err for _, err in outputs]
    assert sorted(json.loads(out)["id"] for out, _ in outputs) == [1, 2, 3, 4]


@pytest.mark.covers("audit --repo --since", "report --repo --since --json")
def test_audit_and_report_of_a_repository(tmp_path: Path):
    env = env_for(tmp_path)
    repo = small_repo(tmp_path / "shop")
    assert (
        gate(
            "assess",
            "--repo",
            str(repo.path),
            "--repository",
            "octo-org/shop",
            cwd=tmp_path,
            env=env,
        ).returncode
        == 0
    )
    audit = gate("audit", "--repo", "octo-org/shop", "--since", "2020-01-01", cwd=tmp_path, env=env)
    assert audit.returncode == 0 and "Audit trail for octo-org/shop" in audit.stdout
    report = gate(
        "report",
        "--repo",
        "octo-org/shop",
        "--since",
        "2020-01-01",
        "--json",
        cwd=tmp_path,
        env=env,
    )
    assert report.returncode == 0, report.stderr
    figures = json.loads(report.stdout)
    assert figures["repository"] == "octo-org/shop" and figures["local_assessments"] == 1
    bad = gate("audit", "--repo", "shop", cwd=tmp_path, env=env)
    assert_clear_error(bad, 2, "OWNER/NAME")
    reversed_dates = gate("report", "--repo", "o/n", "--since", "last week", cwd=tmp_path, env=env)
    assert_clear_error(reversed_dates, 2, "ISO date")


@pytest.mark.covers("report --repo --since")
def test_a_long_report_collapses_its_empty_weeks(tmp_path: Path):
    done = gate(
        "report",
        "--repo",
        "octo-org/shop",
        "--since",
        "2020-01-01",
        cwd=tmp_path,
        env=env_for(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    trend = done.stdout.split("Weekly trend", 1)[1].split("\n\n", 1)[0].splitlines()
    weeks = [line for line in trend if line.startswith("20")]
    assert 1 <= len(weeks) <= 3 and "weeks with no changes" in weeks[0], trend


@pytest.mark.covers("report --repo --since --plot")
def test_a_report_plot_is_written(tmp_path: Path):
    out = tmp_path / "trend.png"
    done = gate(
        "report",
        "--repo",
        "o/n",
        "--since",
        "2026-01-01",
        "--plot",
        str(out),
        cwd=tmp_path,
        env=env_for(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.covers("report --repo --since --plot", "mine --repo --out", "evaluate", "train")
def test_a_missing_train_extra_is_named_before_any_work(tmp_path: Path):
    # a sitecustomize that makes matplotlib, scikit-learn and pyarrow unimportable
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(
        "import sys\n"
        "for name in ('matplotlib', 'sklearn', 'pyarrow'):\n"
        "    sys.modules[name] = None\n"
    )
    env = {
        **env_for(tmp_path),
        "PYTHONPATH": f"{hide}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    runs = {
        "report": ("report", "--repo", "o/n", "--since", "2026-01-01", "--plot", "t.png"),
        "mine": ("mine", "--repo", str(tmp_path), "--out", "m.parquet"),
        "train": ("train", "t.parquet"),
        "evaluate": ("evaluate", "--model", "m", "--table", "t.parquet"),
    }
    for args in runs.values():
        done = gate(*args, cwd=tmp_path, env=env)
        assert_clear_error(done, 2, "pip install 'riskgate[train]'")
    assert not (tmp_path / "t.png").exists() and not (tmp_path / "m.parquet").exists()
