"""Trusting the twin on real networks: `parallel fidelity` on cologne8 and ingolstadt7.

For each scenario: calibrate on one SUMO observation of the incumbent plan, then run
10 plans x 3 replications in SUMO (microscopic, default 1 s step, only the outputs an
observation needs), in the artificial world and in SUMO's mesoscopic model, in the same
run; write the fidelity figures beside the issue's targets, with the speed ratios.

    python -m benchmarks.fidelity [--scenarios scenarios/cologne8.yaml scenarios/ingolstadt7.yaml]
                                  [--plans 10] [--reps 3] [--workers 2] [--seed S]
                                  [--name fidelity]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import write_result
from parallel.core.executors import make_executor
from parallel.traffic.city import load_city
from parallel.traffic.fidelity import run_fidelity

TARGETS = {
    "mare_travel_time_max": 0.10,
    "mare_delay_max": 0.15,
    "kendall_tau_min": 0.7,
    "geh_share_min": 0.85,
}


def verdict(r: dict[str, Any]) -> dict[str, Any]:
    """Each acceptance target: met or not, and whether the twin beats MESO on it."""
    a, m = "artificial", "meso"
    mare = r["mean_abs_rel_error"]
    rows = {
        "mare_travel_time": (mare[a]["mean_travel_time_s"], mare[m]["mean_travel_time_s"], "lower"),
        "mare_delay": (mare[a]["mean_delay_s"], mare[m]["mean_delay_s"], "lower"),
        "kendall_tau": (r["kendall_tau"][a]["tau"], r["kendall_tau"][m]["tau"], "higher"),
        "geh_share": (r["geh_share"][a], r["geh_share"][m], "higher"),
        "c2st_auc_distance_from_half": (
            abs(r["c2st_auc"][a]["auc"] - 0.5),
            abs(r["c2st_auc"][m]["auc"] - 0.5),
            "lower",
        ),
        "wall_s_per_sim_hour": (
            r["wall_s_per_sim_hour"][a],
            r["wall_s_per_sim_hour"][m],
            "lower",
        ),
    }
    out: dict[str, Any] = {}
    for name, (ours, peer, better) in rows.items():
        beats = ours < peer if better == "lower" else ours > peer
        out[name] = {"artificial": ours, "meso": peer, "beats_meso": bool(beats)}
    out["mare_travel_time"]["target_met"] = rows["mare_travel_time"][0] <= 0.10
    out["mare_delay"]["target_met"] = rows["mare_delay"][0] <= 0.15
    out["kendall_tau"]["target_met"] = rows["kendall_tau"][0] >= 0.7
    out["geh_share"]["target_met"] = rows["geh_share"][0] >= 0.85
    speed = r["wall_s_per_sim_hour"]
    out["speed"] = {
        "artificial_vs_meso": speed[m] / speed[a],
        "artificial_vs_micro": speed["sumo"] / speed[a],
        "meso_vs_micro": speed["sumo"] / speed[m],
        "goal_10x_micro_met": speed["sumo"] / speed[a] >= 10,
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--scenarios",
        nargs="+",
        type=Path,
        default=[Path("scenarios/cologne8.yaml"), Path("scenarios/ingolstadt7.yaml")],
    )
    ap.add_argument("--plans", type=int, default=10)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--name", default="fidelity")
    ap.add_argument("--seed", type=int, help="override the scenarios' seed (SUMO, twin, judge)")
    args = ap.parse_args()
    results: dict[str, Any] = {"targets": TARGETS, "networks": {}}
    for path in args.scenarios:
        sc = load_city(path, {} if args.seed is None else {"seed": args.seed})
        ex = make_executor("process", args.workers)
        t0 = time.perf_counter()
        try:
            with tempfile.TemporaryDirectory(prefix="fidelity-") as tmp:
                r, _ = run_fidelity(sc, Path(tmp), ex, args.plans, args.reps)
        finally:
            ex.close()
        r["wall_s_total"] = time.perf_counter() - t0
        results["networks"][sc.name] = {"verdict": verdict(r), "fidelity": r}
        write_result(args.name, results)  # after every network: a partial run keeps its data


if __name__ == "__main__":
    main()
