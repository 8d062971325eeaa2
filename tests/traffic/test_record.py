"""``parallel record`` writes replayable data with its provenance; replay needs no simulator."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import TINY, replay_of, run_cli, write_scenario


def test_record_reference_world_and_replay_it(tmp_path: Path) -> None:
    src = write_scenario(tmp_path, TINY)
    out = tmp_path / "rec"
    res = run_cli("record", str(src), "--out", str(out), "--seed", "8")
    assert res.returncode == 0, res.stderr
    for name in ("vehicles.csv", "detectors.csv", "network.json", "provenance.json"):
        assert (out / name).is_file(), name
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["world"] == "reference" and prov["seed"] == 8 and prov["rows"]["vehicles"] > 100
    assert prov["command"][-1] == "8"
    data = replay_of(TINY, "rec")
    res = run_cli(
        "run", str(write_scenario(tmp_path, data, "replay.yaml")), "--out", str(tmp_path / "runs")
    )
    assert res.returncode == 0, res.stderr
    (run_dir,) = list((tmp_path / "runs" / "tiny").iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["final"]["applied"] is False
    # the artificial world ran on the recorded graph and saw the same links
    det = summary["rounds"][0]["headline"]
    assert 0 <= det["geh_share:counts"] <= 1


def test_record_refuses_a_folder_with_other_things(tmp_path: Path) -> None:
    src = write_scenario(tmp_path, TINY)
    out = tmp_path / "busy"
    out.mkdir()
    (out / "thesis.tex").write_text("keep me")
    res = run_cli("record", str(src), "--out", str(out))
    assert res.returncode == 2 and "did not make (thesis.tex)" in res.stderr
    assert (out / "thesis.tex").read_text() == "keep me"
