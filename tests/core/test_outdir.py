"""The one output-folder rule: a user's folder is never written into, two runs never share
one, and bad input leaves no trace."""

from __future__ import annotations

from pathlib import Path

import pytest

from parallel.core.errors import UserInputError
from parallel.core.outdir import MARK, claim
from tests.conftest import ROOT, run_cli

DATA = ROOT / "scenarios" / "data" / "gan" / "vehicle_records.csv"


def test_train_refuses_a_users_folder_and_leaves_it_as_it_was(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "metrics.csv").write_text("mine\n")
    res = run_cli("train", str(DATA), "--out", str(d), "--steps", "2")
    assert res.returncode == 2 and "did not make (metrics.csv)" in res.stderr
    assert (d / "metrics.csv").read_text() == "mine\n"
    assert sorted(p.name for p in d.iterdir()) == ["metrics.csv"]


def test_evaluate_refuses_a_users_report_before_any_work(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "report.html").write_text("my report")
    res = run_cli("evaluate", "vision", "--real", "x", "--synthetic", "y", "--out", str(d))
    assert res.returncode == 2 and "report.html" in res.stderr
    assert (d / "report.html").read_text() == "my report"


def test_a_folder_of_dot_files_is_a_users_folder(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / ".notes.tmp").write_text("keep me")
    res = run_cli("generate", "table", "--from", str(tmp_path), "--rows", "5", "--out", str(d))
    assert res.returncode == 2 and ".notes.tmp" in res.stderr
    assert (d / ".notes.tmp").read_text() == "keep me"


def test_out_that_is_a_file_is_refused_at_once(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("x")
    res = run_cli("record", str(ROOT / "scenarios" / "quickstart.yaml"), "--out", str(f))
    assert res.returncode == 2 and "is not a folder" in res.stderr and f.read_text() == "x"


def test_bad_input_after_the_claim_leaves_no_folder(tmp_path: Path) -> None:
    d = tmp_path / "new"
    res = run_cli("generate", "table", "--from", str(tmp_path / "nope"), "--rows", "5",
                  "--out", str(d))  # fmt: skip
    assert res.returncode == 2 and "--from" in res.stderr
    assert not d.exists()


def test_a_second_command_into_a_claimed_folder_exits_2(tmp_path: Path) -> None:
    d = tmp_path / "d"
    with claim(d, "generate", ("manifest.json",)):
        assert (d / MARK).is_file()
        res = run_cli("generate", "table", "--from", str(tmp_path), "--rows", "5", "--out", str(d))
        assert res.returncode == 2 and "another parallel command" in res.stderr
        with pytest.raises(UserInputError, match="another parallel command"), claim(d, "generate"):
            pass
    # released when the first one ends; a folder another command made is still refused
    with claim(d, "generate"):
        pass
    (d / "manifest.json").write_text("{}")
    with pytest.raises(UserInputError, match="did not make"), claim(d, "train", ("checkpoint.pt",)):
        pass


@pytest.mark.parametrize("name", ["..", ".", "-rf", ".hidden"])
def test_a_scenario_name_cannot_leave_the_output_folder(tmp_path: Path, name: str) -> None:
    src = (ROOT / "scenarios" / "quickstart.yaml").read_text()
    p = tmp_path / "s.yaml"
    p.write_text(src.replace("name: quickstart", f"name: '{name}'", 1))
    assert f"name: '{name}'" in p.read_text()
    res = run_cli("validate", str(p))
    assert res.returncode == 2 and "field 'name'" in res.stderr
