"""Which control to apply on a real network: every policy measured in SUMO, beside RESCO.

For each network (cologne8, ingolstadt7, and sumo_grid's 3x3 grid written as a city):

1. the closed loop (`parallel run`) with seeds 1..S: in no round may the applied
   control be more than 10% worse in SUMO than the round before (safe exploration);
2. the controls measured in SUMO, R replications each: the network's own programs,
   Webster (from the twin's flows), actuated, max-pressure, and the loop's final choice
   (seed 1); the same controls run in the twin (does it rank max-pressure and actuated
   against fixed time as SUMO does?);
3. the acceptance figures of "Act on real networks", and RESCO's published figures.

    python -m benchmarks.control [--networks cologne8 ingolstadt7 sumo_grid]
                                 [--seeds 5] [--reps 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks._common import RESULTS, write_result
from parallel.core.executors import make_executor
from parallel.traffic.actual.sumo import binary
from parallel.traffic.actual.sumo_net import read_sumocfg
from parallel.traffic.city import CityScenario, load_city
from parallel.traffic.control import make_control, movement_flows
from parallel.traffic.fidelity import run_fidelity
from parallel.traffic.network import read_net
from parallel.traffic.run import run_city
from parallel.traffic.timing import TimingPlan, incumbent, tls_xml

#: RESCO, mean delay per vehicle in SUMO, s (../shared/REFERENCES.md; approximate)
RESCO = {
    "cologne8": {"fixed time": 63.0, "max-pressure": 22.0, "best learned": 22.0},
    "ingolstadt7": {"fixed time": 91.0, "max-pressure": 80.0, "best learned": 31.0},
}


def grid_city(tmp: Path) -> Path:
    """sumo_grid as a city scenario: its netgenerate grid with the incumbent plan
    (C90/s0.50) written into the network as its own programs, its hidden demand as a
    trip file."""
    from benchmarks.grid_spillback import build

    cfg, net, plans = build(tmp, 4)
    (tmp / "own.add.xml").write_text(
        f"<additional>\n{tls_xml(net, plans[0], 'own')}</additional>\n"
    )
    c = read_sumocfg(cfg)
    subprocess.run(
        [binary("netconvert"), "-s", str(c.net_file), "--tllogic-files", "own.add.xml",
         "-o", "grid_own.net.xml", "--no-warnings"],
        cwd=tmp, check=True, capture_output=True,
    )  # fmt: skip
    (tmp / "grid.sumocfg").write_text(
        "<configuration><input>"
        '<net-file value="grid_own.net.xml"/><route-files value="grid.rou.xml"/>'
        f'</input><time><begin value="{c.begin_s:g}"/><end value="{c.end_s:g}"/></time>'
        "</configuration>\n"
    )
    # the twin as scenarios/grid3.yaml sets it up for this grid's sluggish drivers (its
    # prior and calibrated parameters), as benchmarks.grid_spillback does
    grid3 = yaml.safe_load((Path(__file__).parents[1] / "scenarios" / "grid3.yaml").read_text())
    scen = {
        "name": "sumo_grid_city",
        "seed": 1,
        "sumo": {"config": "grid.sumocfg"},
        "observation": grid3["observation"],
        "artificial": {**grid3["artificial"], "replications": 10},
        "calibration": grid3["calibration"],
        "fidelity": {"meso": False},
    }
    (tmp / "sumo_grid.yaml").write_text(yaml.safe_dump(scen))
    return tmp / "sumo_grid.yaml"


def loops(path: Path, seeds: int, out: Path, workers: int) -> list[dict[str, Any]]:
    """The closed loop with seeds 1..``seeds``: each round's control and SUMO's delay."""
    out_rows = []
    for seed in range(1, seeds + 1):
        sc = load_city(path, {"seed": seed})
        t0 = time.perf_counter()
        _, summary = run_city(sc, out / f"seed{seed}", "process", workers)
        rounds = summary["rounds"]
        delays = [r["actual_kpis"]["mean_delay_s"] for r in rounds]
        fin = summary["final"]
        delays.append(fin["actual_kpis"]["mean_delay_s"])
        worst = max((b - a) / a for a, b in zip(delays, delays[1:]))
        out_rows.append(
            {
                "seed": seed,
                "applied": [r["control"]["label"] for r in rounds] + [fin["control"]["label"]],
                "mean_delay_s": delays,
                "worst_round_change": worst,
                "final_control": fin["control"],
                "final_predicted_mean_delay_s": fin["predicted_kpis"]["mean_delay_s"],
                "final_measured_mean_delay_s": fin["actual_kpis"]["mean_delay_s"],
                "wall_s": time.perf_counter() - t0,
            }
        )
        print(f"  seed {seed}: delays {[round(d, 1) for d in delays]}, worst change {worst:+.1%}")
    return out_rows


def controls(sc: CityScenario, final: TimingPlan, out: Path, reps: int, workers: int) -> dict:
    """Every control in SUMO (``reps`` runs) and in the twin, via the fidelity harness."""
    net = read_net(read_sumocfg(sc.sumocfg).net_file)
    own = incumbent(net, "own programs")

    def more(twin: Any) -> list[TimingPlan]:
        fl = movement_flows(net, list(twin.demand.routes), twin.demand.rates_veh_h)
        return [
            make_control(net, policy="webster", flows=fl),
            make_control(net, policy="actuated"),
            make_control(net, policy="max_pressure"),
            TimingPlan(f"loop's choice: {final.label}", final.programs, final.policy, final.params),
        ]

    sc = sc.model_copy(update={"fidelity": sc.fidelity.model_copy(update={"meso": False})})
    ex = make_executor("process", workers)
    try:
        r, _ = run_fidelity(sc, out, ex, reps=reps, design_plans=[own], more_plans=more)
    finally:
        ex.close()
    return r


def verdict(name: str, fid: dict, runs: list[dict]) -> dict[str, Any]:
    rows = {p["label"]: p for p in fid["plans"]}
    sumo = {k: v["actual"]["mean_delay_s"]["mean"] for k, v in rows.items()}
    twin = {k: v["artificial"]["mean_delay_s"]["mean"] for k, v in rows.items()}
    own = sumo["own programs"]
    loop_key = next(k for k in sumo if k.startswith("loop's choice"))
    others = min(v for k, v in sumo.items() if k != loop_key)
    s1 = runs[0]
    fixed = "own programs"

    def ranks_like(policy: str) -> bool:
        return (sumo[policy] < sumo[fixed]) == (twin[policy] < twin[fixed])

    return {
        "table": [
            {
                "control": k,
                "sumo_mean_delay_s": v["actual"]["mean_delay_s"],
                "twin_mean_delay_s": v["artificial"]["mean_delay_s"],
                "sumo_vs_own": (v["actual"]["mean_delay_s"]["mean"] - own) / own,
            }
            for k, v in rows.items()
        ],
        "resco": RESCO.get(name),
        "loop_cut_vs_own": (sumo[loop_key] - own) / own,
        "loop_cut_met": (sumo[loop_key] - own) / own <= -0.25,
        "loop_vs_best_other": (sumo[loop_key] - others) / others,
        "loop_within_10pct_of_best_met": sumo[loop_key] <= 1.10 * others,
        "loop_prediction_error": (
            (s1["final_predicted_mean_delay_s"] - s1["final_measured_mean_delay_s"])
            / s1["final_measured_mean_delay_s"]
        ),
        "loop_prediction_met": abs(
            s1["final_predicted_mean_delay_s"] / s1["final_measured_mean_delay_s"] - 1
        )
        <= 0.15,
        "ranking_vs_fixed": {p: ranks_like(p) for p in ("actuated", "max-pressure")},
        "safe_all_seeds": all(r["worst_round_change"] <= 0.10 for r in runs),
        "worst_round_change": max(r["worst_round_change"] for r in runs),
    }


def kept_networks(fresh: list[str]) -> dict[str, Any]:
    """The entries of the existing ``control.json`` for networks not in ``fresh``, each
    with ``measured_at`` (its revision and time), so a reader sees which ran when."""
    path = RESULTS / "control.json"
    if not path.exists():
        return {}
    old = json.loads(path.read_text())
    stamp = {"git_revision": old.get("git_revision"), "when_utc": old.get("when_utc")}
    out = {}
    for name, entry in old.get("networks", {}).items():
        if name not in fresh:
            out[name] = {**entry, "measured_at": entry.get("measured_at", stamp)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--networks", nargs="+", default=["cologne8", "ingolstadt7", "sumo_grid"])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--keep-others",
        action="store_true",
        help="keep the other networks' entries of the existing control.json (each marked "
        "with the revision that measured it): re-measure one network after a change that "
        "leaves the others as they were",
    )
    args = ap.parse_args()
    t0 = time.perf_counter()
    result: dict[str, Any] = {"seeds": args.seeds, "reps": args.reps, "networks": {}}
    if args.keep_others:
        result["networks"] = kept_networks(args.networks)
    with tempfile.TemporaryDirectory(prefix="control-") as d:
        tmp = Path(d)
        for name in args.networks:
            print(f"{name}:")
            if name == "sumo_grid":
                (tmp / "grid").mkdir()
                path = grid_city(tmp / "grid")
            else:
                path = Path("scenarios") / f"{name}.yaml"
            runs = loops(path, args.seeds, tmp / name, args.workers)
            final = TimingPlan.from_json(runs[0]["final_control"])
            fid = controls(
                load_city(path), final, tmp / f"{name}-controls", args.reps, args.workers
            )
            v = verdict(name, fid, runs)
            result["networks"][name] = {"loops": runs, **v}
            print(json.dumps({k: v[k] for k in v if k not in ("table",)}, indent=1, default=str))
    result["wall_s"] = time.perf_counter() - t0
    write_result("control", result)


if __name__ == "__main__":
    main()
