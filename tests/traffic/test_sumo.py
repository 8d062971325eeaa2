"""Eclipse SUMO as the actual world. Skipped, with the reason, where SUMO is not installed
(the [sumo] extra); CI installs it and runs these."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from parallel.core.errors import RunError, UserInputError
from parallel.traffic.actual.sumo import available
from parallel.traffic.scenario import load
from tests.conftest import replay_of, run_cli, write_scenario

pytestmark = pytest.mark.skipif(
    not available(), reason="Eclipse SUMO is not installed: pip install -e '.[sumo]'"
)

SMALL = {
    "name": "sumo-small",
    "seed": 3,
    "network": {
        "kind": "sumo_grid",
        "grid_x": 2,
        "grid_y": 2,
        "spacing_m": 200,
        "approach_length_m": 150,
        "main_lanes": 1,
    },
    "demand": {"duration_s": 600, "warmup_s": 120},
    "control": {"initial": {"cycle_s": 60, "splits": [0.5, 0.5]}},
    "actual": {
        "world": "sumo",
        "truth": {
            "demand": {
                "left0": 300,
                "left1": 300,
                "right0": 200,
                "right1": 200,
                "bottom0": 100,
                "bottom1": 100,
                "top0": 100,
                "top1": 100,
            }
        },
    },
    "artificial": {"replications": 1},
    "judge": {"detector_interval_s": 300, "c2st": {"permutations": 20}},
    "calibration": {"budget": 6, "replications": 1},
    "experiments": {"factors": {"cycle_s": [60], "split_main": [0.5, 0.65]}, "replications": 2},
    "loop": {"rounds": 1},
    "executor": {"kind": "sequential"},
    "report": {"plots": False},
}


@pytest.fixture
def small(tmp_path: Path):  # type: ignore[no-untyped-def]
    return load(write_scenario(tmp_path, SMALL))


def test_one_network_two_worlds(small, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import sumolib

    from parallel.traffic.actual import make_actual

    world = make_actual(small, tmp_path / "w")
    net = sumolib.net.readNet(world.net_file)
    sumo_edges = {e.getID() for e in net.getEdges() if e.getFunction() != "internal"}
    graph_edges = {d["sumo_id"] for _, _, d in world.topo.graph.edges(data=True)}
    assert sumo_edges == graph_edges  # edge by edge
    assert len(world.topo.links) == len(sumo_edges)
    assert world.topo.origins == sorted(small.network.origins())
    obs = world.observe(small.control.initial, np.random.SeedSequence(1))
    assert len(obs.vehicles) > 50 and obs.meta["teleports"] <= 20
    assert set(obs.detectors["link"]) == set(world.topo.links)  # detector by detector
    counts = obs.detectors.groupby("link")["count"].sum()
    assert counts["left0>A0"] == pytest.approx(300 * 600 / 3600, rel=0.4)
    assert obs.kpis["mean_delay_s"] > 0


def test_sumo_loop_runs_and_reports(small, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from parallel.traffic.run import run_scenario

    folder, summary = run_scenario(small, tmp_path / "runs")
    assert summary["actual_world"] == "sumo" and summary["final"]["applied"]
    assert (folder.root / "report.html").is_file()
    assert (
        folder.root / "sumo" / "network.net.xml"
    ).is_file()  # SUMO's files stay in the run folder
    assert summary["calibration"]["truth"]["demand.left0"] == 300


def test_bad_net_file_is_a_clear_input_error(tmp_path: Path) -> None:
    data = copy.deepcopy(SMALL)
    (tmp_path / "bad.net.xml").write_text("<net><edge id='x' from='a'")
    data["network"] = {"kind": "file", "file": "bad.net.xml"}
    path = write_scenario(tmp_path, data)
    res = run_cli("run", str(path), "--out", str(tmp_path / "out"))
    assert res.returncode == 2 and "bad.net.xml" in res.stderr and "Traceback" not in res.stderr


def test_sumo_crash_and_teleports_fail_cleanly(small, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from parallel.traffic.actual import make_actual
    from parallel.traffic.actual.sumo import binary

    with pytest.raises(UserInputError, match="not found"):
        binary("no-such-sumo-tool")
    world = make_actual(small, tmp_path / "crash")
    Path(world.net_file).write_text("garbage")  # SUMO cannot load its network any more
    with pytest.raises(RunError, match="SUMO failed"):
        world.observe(small.control.initial, np.random.SeedSequence(1))

    jam = copy.deepcopy(SMALL)
    jam["actual"]["truth"]["demand"] = {k: 1400 for k in jam["actual"]["truth"]["demand"]}
    jam["actual"]["teleport_limit"] = 0
    jam["actual"]["time_to_teleport_s"] = 20
    path = write_scenario(tmp_path, jam, "jam.yaml")
    res = run_cli("run", str(path), "--out", str(tmp_path / "out"))
    assert res.returncode == 1 and "teleported" in res.stderr and "Traceback" not in res.stderr
    (run_dir,) = list((tmp_path / "out" / "sumo-small").iterdir())
    status = json.loads((run_dir / "run.json").read_text())
    assert status["status"] == "failed" and "teleported" in status["error"]


def test_record_then_replay_without_sumo(small, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "rec"
    res = run_cli("record", str(write_scenario(tmp_path, SMALL)), "--out", str(out))
    assert res.returncode == 0, res.stderr
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["world"] == "sumo" and prov["sumo_version"].startswith("Eclipse SUMO")
    data = replay_of(SMALL, "rec")
    res = run_cli(
        "run", str(write_scenario(tmp_path, data, "replay.yaml")), "--out", str(tmp_path / "runs")
    )
    assert res.returncode == 0, res.stderr
    assert "Recommended plan" in res.stdout
