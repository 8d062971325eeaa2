"""City scenarios on real SUMO networks: loading, bad input, and `parallel fidelity` end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from parallel.core.errors import ScenarioError
from parallel.traffic.city import load_city
from tests.conftest import ROOT, run_cli

pytest.importorskip("sumolib")
RESCO = ROOT / "scenarios" / "data" / "resco"


def _city(tmp_path: Path, **extra: object) -> Path:
    """cologne1 copied into ``tmp_path`` with a scenario beside it."""
    shutil.copytree(RESCO / "cologne1", tmp_path / "c1")
    data = {
        "name": "c1",
        "seed": 2,
        "sumo": {"config": "c1/cologne1.sumocfg"},
        "artificial": {"replications": 2},
        "calibration": {"budget": 6, "replications": 1},
        "fidelity": {"plans": 3, "reps": 1},
        "executor": {"kind": "sequential"},
        **extra,
    }
    p = tmp_path / "c1.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_a_detector_on_a_missing_edge(tmp_path: Path) -> None:
    p = _city(tmp_path, observation={"detectors": ["nope"]})
    with pytest.raises(ScenarioError, match=r"c1\.yaml:\d+, field 'observation.detectors'.*'nope'"):
        load_city(p)


def test_a_trip_file_naming_a_missing_edge(tmp_path: Path) -> None:
    p = _city(tmp_path)
    trips = tmp_path / "c1" / "cologne1.rou.xml"
    text = trips.read_text()
    first = text.index('from="') + len('from="')
    trips.write_text(text[:first] + "ghost_edge" + text[text.index('"', first) :])
    res = run_cli("validate", str(p))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "cologne1.rou.xml" in res.stderr and "'ghost_edge' is not an edge" in res.stderr


@pytest.mark.parametrize(
    ("element", "said"),
    [
        ('<trip id="t1" depart="0" from="{a}" to="{b}" via="ghost"/>', "trip 't1': via='ghost'"),
        (
            '<flow id="f1" begin="0" end="9" number="2" from="ghost" to="{b}"/>',
            "flow 'f1': from='ghost'",
        ),
        ('<route id="r1" edges="{a} ghost"/>', "route 'r1' names edge 'ghost'"),
    ],
)
def test_check_trips_names_the_element_and_the_missing_edge(
    tmp_path: Path, element: str, said: str
) -> None:
    """Every way a route file names edges (from, to, via, a route's edges) is checked
    against the network before SUMO runs, and the error names the element."""
    from parallel.core.errors import UserInputError
    from parallel.traffic.actual.sumo_net import check_trips
    from parallel.traffic.network import read_net

    net = read_net(RESCO / "cologne1" / "cologne1.net.xml")
    a, b = net.edges[0].id, net.edges[1].id
    trips = tmp_path / "t.rou.xml"
    trips.write_text(f"<routes>{element.format(a=a, b=b)}</routes>")
    with pytest.raises(UserInputError) as err:
        check_trips(net, trips)
    assert "t.rou.xml" in str(err.value) and said in str(err.value)


def test_a_trip_file_with_a_repeated_id_or_a_negative_departure(tmp_path: Path) -> None:
    """What SUMO would stop on after the run began is refused before it: exit 2, the file,
    the trip and the fix."""
    p = _city(tmp_path)
    trips = tmp_path / "c1" / "cologne1.rou.xml"
    text = trips.read_text()
    start = text.index("<trip ")
    first = text[start : text.index(">", start) + 1]
    trips.write_text(text.replace(first, first + "\n" + first, 1))
    res = run_cli("validate", str(p))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "cologne1.rou.xml" in res.stderr and "is used twice" in res.stderr
    dep = first.index('depart="') + len('depart="')
    negative = first[:dep] + "-5" + first[first.index('"', dep) :]
    trips.write_text(text.replace(first, negative, 1))
    res = run_cli("validate", str(p))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "depart='-5' is negative" in res.stderr


def test_a_file_that_is_not_a_network(tmp_path: Path) -> None:
    p = _city(tmp_path)
    (tmp_path / "c1" / "cologne1.net.xml").write_text("<routes/>")
    res = run_cli("fidelity", str(p), "--out", str(tmp_path / "out"))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "cologne1.net.xml: not a SUMO network" in res.stderr
    assert not (tmp_path / "out").exists()


def test_a_network_without_traffic_lights(tmp_path: Path) -> None:
    p = _city(tmp_path)
    net = tmp_path / "c1" / "cologne1.net.xml"
    text = net.read_text()
    while "<tlLogic" in text:  # drop every program
        a = text.index("<tlLogic")
        text = text[:a] + text[text.index("</tlLogic>", a) + len("</tlLogic>") :]
    net.write_text(text)
    with pytest.raises(ScenarioError, match="has no traffic lights"):
        load_city(p)


@pytest.mark.slow
def test_fidelity_end_to_end(tmp_path: Path) -> None:
    p = _city(tmp_path, fidelity={"plans": 3, "reps": 1, "calibrate_on": 2})
    out = tmp_path / "fid"
    # --out relative to the user's folder: SUMO, which runs inside the run folders, must
    # still find the estimated demand written under it
    res = run_cli("fidelity", str(p), "--out", "fid", "--plans", "3", "--reps", "1", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    r = json.loads((out / "fidelity.json").read_text())
    assert r["scenario"] == "c1" and len(r["plans"]) == 3
    peers = {"artificial", "meso", "meso_estimated"}
    for key in ("kendall_tau", "spearman", "mean_abs_rel_error", "c2st_auc", "geh_share"):
        assert set(r[key]) == peers, key
    assert set(r["wall_s_per_sim_hour"]) == {"sumo"} | peers - {"actual"}
    row = r["plans"][0]
    assert row["label"] == "incumbent"
    for world in ("actual", *peers):
        assert row[world]["mean_delay_s"]["mean"] > 0
    # MESO on the twin's estimated demand runs SUMO on the flows the twin departs: as
    # many vehicles as the twin (Poisson noise aside), not the trip file's
    flows = (out / "meso_estimated" / "estimated.rou.xml").read_text()
    assert "<flow " in flows and 'period="exp(' in flows
    est, twin = (row[w]["throughput_veh_h"]["mean"] for w in ("meso_estimated", "artificial"))
    assert abs(est - twin) < 0.15 * twin
    assert 0.0 <= r["geh_share"]["artificial"] <= 1.0
    # where the time is lost, in every world, on the edges where SUMO loses most
    loss = r["time_loss_by_edge"]
    assert set(loss["total"]) == {"actual"} | peers and loss["total"]["actual"] > 0
    assert loss["edges"] and set(loss["edges"][0]) == {"edge", "actual"} | peers
    assert loss["edges"][0]["actual"] >= loss["edges"][-1]["actual"]
    assert set(loss["located_share"]) == peers and set(loss["surplus"]) == peers
    for w, rows in loss["surplus"].items():
        assert all(row["world"] > row["actual"] for row in rows), w
    assert all(0.0 <= v <= 1.0 for v in loss["located_share"].values())
    assert "located" in res.stdout  # the console table's time-loss column
    # the verdict restates the figures against the targets and against MESO
    v = r["verdict"]
    assert v["peer"] == "meso" and set(v["figures"]) == {
        "kendall_tau", "mare_travel_time", "mare_delay", "geh_share"
    }  # fmt: skip
    tau = v["figures"]["kendall_tau"]
    assert tau["value"] == r["kendall_tau"]["artificial"]["tau"]
    assert tau["peer"] == r["kendall_tau"]["meso"]["tau"]
    assert tau["meets"] == (tau["value"] >= 0.7)
    assert v["trusted"] == all(f["meets"] for f in v["figures"].values())
    assert "Verdict: the twin" in res.stdout
    # calibrated on the design's first two plans, each observed in SUMO once
    assert r["settings"]["calibrated_on_plans"] == [r["plans"][0]["label"], r["plans"][1]["label"]]
    assert (out / "calibration").is_dir() and (out / "calibration2").is_dir()
    html = (out / "report.html").read_text()
    assert "Predicted against measured" in html and "Where the time is lost" in html
    assert "<h2>Verdict</h2>" in html
    # a folder with files in it is never written into: a user's, or a finished run's
    # (which --resume would continue)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    again = run_cli("fidelity", str(p), "--out", str(mine))
    assert again.returncode == 2 and "not an empty folder" in again.stderr
    assert [f.name for f in mine.iterdir()] == ["notes.txt"]
    again = run_cli("fidelity", str(p), "--out", str(out))
    assert again.returncode == 2 and "--resume" in again.stderr


def test_a_bad_policy_name_or_parameter(tmp_path: Path) -> None:
    p = _city(tmp_path, loop={"policies": [{"policy": "fixed"}, {"policy": "maxpressure"}]})
    res = run_cli("validate", str(p))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "loop.policies" in res.stderr and "valid names are: actuated, fixed" in res.stderr
    p.write_text(p.read_text().replace("maxpressure", "actuated\n    params: {gap: 2}"))
    res = run_cli("validate", str(p))
    assert res.returncode == 2 and "its parameters are: max_gap_s" in res.stderr


@pytest.mark.slow
def test_closed_loop_on_a_real_network(tmp_path: Path) -> None:
    p = _city(tmp_path, loop={"rounds": 2, "plans": 3, "optimise": 2}, report={"plots": True})
    res = run_cli("run", str(p), "--out", str(tmp_path / "runs"))
    assert res.returncode == 0, res.stderr
    (folder,) = (tmp_path / "runs" / "c1").iterdir()
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["actual_world"] == "sumo" and len(summary["rounds"]) == 2
    r2 = summary["rounds"][1]
    # round 2 ran, in SUMO, the plan that round 1's experiments chose
    assert r2["control"]["label"] == summary["rounds"][0]["chosen"]["label"]
    assert summary["final"]["applied"] and summary["final"]["actual_kpis"]["mean_delay_s"] > 0
    hist = json.loads((folder / "history.json").read_text())
    table = hist["rounds"][0]["experiments"]["table"]
    assert sum(row["incumbent"] for row in table) == 1
    # every default policy was tried in the twin, and the optimiser's trials too
    assert {row["policy"] for row in table} == {"fixed", "actuated", "max_pressure"}
    labels = [row["plan"] for row in table]
    assert "webster" in labels and sum("optuna" in x for x in labels) == 2
    # the act verb says how far it trusted the twin, and kept to its own rule
    trust = hist["rounds"][0]["trust"]
    chosen = next(row for row in table if row["plan"] == hist["rounds"][0]["chosen"]["label"])
    assert trust["trust_margin"] >= 0.05
    assert chosen["incumbent"] or chosen["mean_delay_s_hi"] * (1 + trust["trust_margin"]) <= (
        trust["limit_mean_delay_s"] + 1e-9
    )
    assert "Safe exploration" in (folder / "report.md").read_text()
    assert hist["rounds"][0]["calibration"]["evaluations"] >= 2
    # round 2 calibrates against both plans observed so far
    assert [r["calibration"]["observations"] for r in hist["rounds"]] == [1, 2]
    assert (folder / "data" / "round1.actual.probes.parquet").is_file()
    assert "mean_delay_s" in (folder / "report.html").read_text()


def _without_timings(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k != "timings"}


@pytest.mark.slow
def test_a_city_run_resumes_after_an_interrupted_round(tmp_path: Path) -> None:
    """Interrupted after round 1 (Ctrl-C as the round's checkpoint is written), then
    `parallel run --resume`: the same rounds, choices and final figures as a run that was
    never interrupted. Other settings, or a finished run, exit 2."""
    from parallel.traffic.run import run_city

    p = _city(tmp_path, loop={"rounds": 2, "plans": 3, "optimise": 2})
    sc = load_city(p)
    _, whole = run_city(sc, tmp_path / "whole")

    def stop(verb: str, r: int, info: dict[str, Any]) -> None:
        if verb == "round_done" and r == 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_city(sc, tmp_path / "cut", on_event=stop)
    (folder,) = (tmp_path / "cut" / "c1").iterdir()
    assert json.loads((folder / "run.json").read_text())["status"] == "interrupted"
    assert len(json.loads((folder / "checkpoint.json").read_text())["rounds"]) == 1

    res = run_cli("run", str(p), "--seed", "3", "--resume", str(folder))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "differs from the run's at 'seed'" in res.stderr
    res = run_cli("run", str(p), "--resume", str(folder), "--quiet")
    assert res.returncode == 0, res.stderr
    resumed = json.loads((folder / "summary.json").read_text())
    assert _without_timings(resumed) == _without_timings(whole)
    assert json.loads((folder / "run.json").read_text())["resumed_after_round"] == 1
    assert not (folder / "checkpoint").exists() and not (folder / "checkpoint.json").exists()
    res = run_cli("run", str(p), "--resume", str(folder))
    assert res.returncode == 2 and "that run finished" in res.stderr


def test_resume_is_for_city_runs_and_their_folders(tmp_path: Path) -> None:
    res = run_cli("run", str(ROOT / "scenarios" / "intersection.yaml"), "--resume", str(tmp_path))
    assert res.returncode == 2 and "only city scenarios" in res.stderr
    p = _city(tmp_path)
    res = run_cli("run", str(p), "--resume", str(tmp_path / "nowhere"))
    assert (
        res.returncode == 2 and "not a run folder" in res.stderr and "Traceback" not in res.stderr
    )


@pytest.mark.slow
def test_fidelity_resumes_an_interrupted_run(tmp_path: Path) -> None:
    p = _city(tmp_path)
    out = tmp_path / "fid"
    first = run_cli("fidelity", str(p), "--out", str(out), "--plans", "3", "--reps", "1")
    assert first.returncode == 0, first.stderr
    before = json.loads((out / "fidelity.json").read_text())
    assert before["settings"]["runs_kept_from_before"] == 0
    assert json.loads((out / ".parallel-out.json").read_text())["command"] == "fidelity"
    # an interruption: half the runs never finished, and nothing was summarised
    done = sorted((out / "runs").glob("*/result.json"))
    assert len(done) == 3 * (1 + 1 + 1 + 2)  # plans x (SUMO, MESO, MESO est., twin x 2)
    for path in done[::2]:
        path.unlink()
    (out / "fidelity.json").unlink()
    again = run_cli(
        "fidelity", str(p), "--out", str(out), "--plans", "3", "--reps", "1", "--resume"
    )
    assert again.returncode == 0, again.stderr
    after = json.loads((out / "fidelity.json").read_text())
    assert after["settings"]["runs_kept_from_before"] == len(done) - len(done[::2])
    # the figures of an uninterrupted run, but for the wall times
    for key in ("plans", "kendall_tau", "mean_abs_rel_error", "c2st_auc", "geh_share",
                "time_loss_by_edge", "verdict"):  # fmt: skip
        assert json.dumps(after[key]) == json.dumps(before[key]), key  # NaN equal to NaN
    # settings that differ, or a folder without a run, are refused before any work
    other = run_cli(
        "fidelity", str(p), "--out", str(out), "--plans", "3", "--reps", "2", "--resume"
    )
    assert other.returncode == 2 and "reps" in other.stderr and "Traceback" not in other.stderr
    forgot = run_cli("fidelity", str(p), "--out", str(out), "--plans", "3", "--reps", "1")
    assert forgot.returncode == 2 and "--resume" in forgot.stderr
    empty = run_cli("fidelity", str(p), "--out", str(tmp_path / "none"), "--resume")
    assert empty.returncode == 2 and "fidelity.state.json" in empty.stderr
