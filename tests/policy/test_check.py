"""`gate policy check FILE`: the summary, each error with its line, unreadable files."""

from __future__ import annotations

import io
from pathlib import Path

from gate.policy.check import check_file
from gate.policy.document import MAX_POLICY_BYTES
from tests.policy.policy_text import EXAMPLE


def run_check(path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = check_file(path, out, err)
    return code, out.getvalue(), err.getvalue()


def test_check_a_valid_file_prints_the_summary_and_warnings(tmp_path: Path):
    code, out, err = run_check(EXAMPLE)
    assert (code, err) == (0, "")
    assert out.startswith(f"{EXAMPLE}: valid\n  mode: enforce")
    assert "  approvers: users alice, bob;" in out
    path = tmp_path / "risk-gate.yml"
    path.write_text("mode: shadow\nmodee: x\n")
    code, out, err = run_check(path)
    assert code == 0
    assert f"warnings (1):\n  {path} line 2: unknown key 'modee' (did you mean 'mode'?)\n" in out


def test_check_an_invalid_file_prints_each_error_with_its_line(tmp_path: Path):
    path = tmp_path / "risk-gate.yml"
    path.write_text("mode: enforced\nthresholds:\n  pass_below: 2\nextra: 1\n")
    code, out, err = run_check(path)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"{path}: invalid, 2 errors",
        f"  {path} line 1, mode: expected 'enforce' or 'shadow', got 'enforced' "
        "(did you mean 'enforce'?)",
        f"  {path} line 3, thresholds.pass_below: Input should be less than or equal to 1",
        "warnings (1):",
        f"  {path} line 4: unknown key 'extra'",
    ]


def test_check_broken_yaml_and_non_utf8(tmp_path: Path):
    path = tmp_path / "risk-gate.yml"
    path.write_text("mode: [\n")
    code, _, err = run_check(path)
    assert code == 1 and f"{path} line 2: not valid YAML" in err
    path.write_bytes(b"mode: shadow\nreason: \xff\n")
    code, _, err = run_check(path)
    assert code == 1 and f"{path} line 2: not UTF-8 text (byte 0xff)" in err


def test_check_a_huge_file(tmp_path: Path):
    path = tmp_path / "risk-gate.yml"
    path.write_bytes(b"# " + "é".encode() * MAX_POLICY_BYTES)
    code, _, err = run_check(path)
    assert code == 1 and "file is larger than 1024 KiB" in err


def test_check_an_unreadable_file(tmp_path: Path):
    code, out, err = run_check(tmp_path / "missing.yml")
    assert (code, out) == (2, "")
    assert err == f"cannot read {tmp_path / 'missing.yml'}: No such file or directory\n"
    code, _, err = run_check(tmp_path)
    assert code == 2 and err.startswith(f"cannot read {tmp_path}: ")
