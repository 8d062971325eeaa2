"""A recorded city: SUMO observed once, replayed without SUMO; bad recordings are named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from parallel.core.errors import DataError, ScenarioError
from parallel.core.executors import make_executor
from parallel.traffic.actual.recorded import RecordedCity
from parallel.traffic.city import load_city
from parallel.traffic.citymachine import CityMachine
from parallel.traffic.citytwin import delay_by_origin
from tests.conftest import ROOT, run_cli

GRID = ROOT / "scenarios" / "data" / "grid3"


def _quick(tmp_path: Path, recording: Path | None = None, **extra: object) -> Path:
    """The quickstart with tiny budgets, its files referred to where they are."""
    data = yaml.safe_load((ROOT / "scenarios" / "quickstart.yaml").read_text())
    data["sumo"]["config"] = str(GRID / "grid3.sumocfg")
    data["sumo"]["replay"] = str(recording or GRID / "observed")
    data["calibration"].update(budget=5, replications=1)
    data["artificial"]["replications"] = 1
    data["loop"].update(plans=2, optimise=0, policies=[{"policy": "fixed"}])
    data["executor"] = {"kind": "sequential"}
    data.update(extra)
    p = tmp_path / "quick.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_the_quickstart_replays_a_recording_and_recommends(tmp_path: Path) -> None:
    sc = load_city(_quick(tmp_path))
    m = CityMachine(sc, make_executor("sequential", 1))
    assert isinstance(m.actual_world, RecordedCity) and not m.actual_world.actionable
    ok = run_cli("validate", str(_quick(tmp_path)))
    assert ok.returncode == 0 and "replays the recording" in ok.stdout
    res = run_cli("run", str(_quick(tmp_path)), "--out", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    (summary,) = (tmp_path / "out").glob("quickstart/*/summary.json")
    s = json.loads(summary.read_text())
    assert s["actual_world"] == "recorded sumo" and len(s["rounds"]) == 1
    assert s["final"]["applied"] is False and "recommendation" in s["final"]["note"]
    r = s["rounds"][0]
    # the recording is what SUMO measured; after calibration the twin is judged again
    measured = json.loads((GRID / "observed" / "provenance.json").read_text())["kpis"]
    assert r["actual_kpis"]["mean_delay_s"] == pytest.approx(measured["mean_delay_s"])
    assert r["kpis_after_adapt"]["mean_delay_s"] > 0
    assert 0.5 <= r["headline_after_adapt"]["c2st_auc:vehicles"] <= 1.0
    assert "Recommended plan" in res.stdout and "C2ST after" in res.stdout
    # a recording cannot be run through the fidelity design, which needs SUMO
    bad = run_cli("fidelity", str(_quick(tmp_path)), "--out", str(tmp_path / "f"))
    assert bad.returncode == 2 and "sumo.replay" in bad.stderr and "Traceback" not in bad.stderr


def _copy(tmp_path: Path) -> Path:
    rec = tmp_path / "rec"
    shutil.copytree(GRID / "observed", rec)
    return rec


def test_a_bad_recording_is_named_by_file_line_and_field(tmp_path: Path) -> None:
    rec = _copy(tmp_path)
    det = pd.read_csv(rec / "detectors.csv")
    det.loc[3, "link"] = "nowhere"
    det.to_csv(rec / "detectors.csv", index=False)
    res = run_cli("validate", str(_quick(tmp_path, rec)))
    assert res.returncode == 2 and "detectors.csv: line 5" in res.stderr
    assert "'nowhere'" in res.stderr and "Traceback" not in res.stderr

    rec = _copy(tmp_path / "b")
    probes = pd.read_csv(rec / "probes.csv")
    probes.loc[0, "route"] = "left0A0 C2right2"  # edges that do not connect
    probes.to_csv(rec / "probes.csv", index=False)
    with pytest.raises(DataError, match="probes.csv, probe row 1"):
        sc = load_city(_quick(tmp_path, rec))
        CityMachine(sc, make_executor("sequential", 1))

    rec = _copy(tmp_path / "c")
    prov = json.loads((rec / "provenance.json").read_text())
    (rec / "provenance.json").write_text(json.dumps({**prov, "interval_s": 300}))
    res = run_cli("run", str(_quick(tmp_path, rec)), "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "interval_s is 300" in res.stderr


def test_a_missing_recording_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="sumo.replay") as e:
        load_city(_quick(tmp_path, tmp_path / "nothing"))
    assert "parallel record" in str(e.value)


def test_delay_by_origin_is_zero_for_a_perfect_fit_and_weighs_vehicles() -> None:
    obs = pd.DataFrame(
        {"origin": ["a"] * 30 + ["b"] * 20 + ["c"] * 5, "delay_s": [10.0] * 30 + [40.0] * 25}
    )
    assert delay_by_origin(obs, obs) == 0.0
    sim = obs.copy()
    sim.loc[sim.origin == "a", "delay_s"] = 20.0  # 10 s off on 30 of 50 counted vehicles
    sim.loc[sim.origin == "c", "delay_s"] = 1000.0  # under 20 observed: not counted
    want = (30 * 10.0**2 / 50) ** 0.5 / obs.delay_s.mean()
    assert delay_by_origin(obs, sim) == pytest.approx(want)


def test_recording_again_reproduces_the_shipped_data(tmp_path: Path) -> None:
    out = tmp_path / "again"
    res = run_cli("record", str(ROOT / "scenarios" / "grid3.yaml"), "--out", str(out))
    assert res.returncode == 0, res.stderr
    shipped = json.loads((GRID / "observed" / "provenance.json").read_text())
    new = json.loads((out / "provenance.json").read_text())
    assert new["rows"]["probes"] > 0 and set(new["rows"]) == {"vehicles", "detectors", "probes"}
    if new["sumo_version"] == shipped["sumo_version"]:  # same seed, same SUMO: same data
        for name in ("vehicles", "detectors", "probes"):
            pd.testing.assert_frame_equal(
                pd.read_csv(out / f"{name}.csv"), pd.read_csv(GRID / "observed" / f"{name}.csv")
            )
    else:  # another SUMO release moves vehicles a little, not the hour's picture
        assert new["kpis"]["mean_delay_s"] == pytest.approx(
            shipped["kpis"]["mean_delay_s"], rel=0.25
        )
    # a recording is not recorded again
    res = run_cli("record", str(_quick(tmp_path)), "--out", str(tmp_path / "twice"))
    assert res.returncode == 2 and "already replays" in res.stderr
