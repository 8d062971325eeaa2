"""The twin against SUMO's microscopic and mesoscopic models on real networks, run alone.

`benchmarks.fidelity` reports wall time per simulated hour too, but from its 2-worker
pool, where every run shares the two cores with another run (a SUMO process or a twin) and
with the main process. Here every run has the machine to itself: for each network the
three worlds run one after another, interleaved repeat by repeat (so a slow minute of the
machine hits all three), on the incumbent plan, and the medians are compared.

SUMO runs as its users run it for this job: the ``sumo`` binary at its default 1 s step,
with only the outputs an observation needs (edgeData, tripinfo, vehroute); a SUMO figure
is the ``sumo`` process's wall time (start, network loading and the run). The twin's
figure is the whole :meth:`CityTwin.run` call (building the model, the run, the tally).
The twin is calibrated first, as `parallel fidelity` calibrates it, on one SUMO
observation of the incumbent; the calibration is not timed.

    python -m benchmarks.city_speed [--scenarios scenarios/cologne8.yaml ...] [--repeats 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import write_result
from parallel.core.executors import make_executor
from parallel.core.seeds import Stage, stream
from parallel.traffic.actual.sumo_net import SumoNetWorld, read_sumocfg
from parallel.traffic.artificial.params import Horizon
from parallel.traffic.city import CityScenario, load_city
from parallel.traffic.citytwin import CityTwin, learn
from parallel.traffic.network import read_net
from parallel.traffic.timing import incumbent

GOAL_OVER_MICRO = 10.0


def _twin(sc: CityScenario, tmp: Path, workers: int) -> tuple[CityTwin, SumoNetWorld, SumoNetWorld]:
    """The calibrated twin, and SUMO micro and meso on the scenario's own trip file."""
    cfg = read_sumocfg(sc.sumocfg)
    net = read_net(cfg.net_file)
    horizon = Horizon(cfg.begin_s, cfg.end_s - cfg.begin_s, sc.observation.interval_s)
    worlds = [
        SumoNetWorld(
            cfg,
            horizon.interval_s,
            sc.observation.probe_share,
            tmp / name,
            meso,
            sc.sumo.time_to_teleport_s,
            check=not meso,
            net=net,
        )
        for name, meso in (("sumo", False), ("meso", True))
    ]
    own = incumbent(net, "own programs")
    observed = worlds[0].observe(own, stream(sc.seed, Stage.ACTUAL, 0), tmp / "calibration")
    executor = make_executor("process", workers)
    try:
        twin = learn(sc, net, horizon, [(own, observed)], None, executor)
    finally:
        executor.close()
    return twin, worlds[0], worlds[1]


def _measure(sc: CityScenario, repeats: int, workers: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="parallel-speed-") as tmp_s:
        tmp = Path(tmp_s)
        print(f"{sc.name}: calibrating the twin on one SUMO observation ...", flush=True)
        twin, micro, meso = _twin(sc, tmp, workers)
        plan = incumbent(twin.net, "own programs")
        walls: dict[str, list[float]] = {"sumo": [], "meso": [], "artificial": []}
        vehicles: dict[str, list[int]] = {k: [] for k in walls}
        for r in range(repeats):
            seed = stream(sc.seed, Stage.FIDELITY, 0, r, 9)
            for name, world in (("sumo", micro), ("meso", meso)):
                obs = world.observe(plan, seed, tmp / f"{name}-{r:02d}")
                walls[name].append(float(obs.meta["sim_wall_s"]))
                vehicles[name].append(len(obs.vehicles))
            t0 = time.perf_counter()
            obs = twin.run(plan, seed)
            walls["artificial"].append(time.perf_counter() - t0)
            vehicles["artificial"].append(len(obs.vehicles))
            print(
                f"  repeat {r + 1}/{repeats}: "
                + ", ".join(f"{k} {v[-1]:.3f} s" for k, v in walls.items()),
                flush=True,
            )
    hours = twin.horizon.duration_s / 3600.0
    per_hour = {k: float(np.median(v)) / hours for k, v in walls.items()}
    best = {k: float(np.min(v)) / hours for k, v in walls.items()}
    art = per_hour["artificial"]
    # the machine's speed drifts from minute to minute; a ratio within one repeat, where
    # the three ran seconds apart, is steadier than a ratio of medians
    paired = {
        peer: float(np.median(np.array(walls[peer]) / np.array(walls["artificial"])))
        for peer in ("sumo", "meso")
    }
    return {
        "simulated_hours_per_run": hours,
        "vehicles_per_run": {k: float(np.mean(v)) for k, v in vehicles.items()},
        "wall_s_per_sim_hour_median": per_hour,
        "wall_s_per_sim_hour_best": best,
        "wall_s_all": walls,
        "speedup_over_sumo_micro": per_hour["sumo"] / art,
        "speedup_over_sumo_meso": per_hour["meso"] / art,
        "meso_speedup_over_micro": per_hour["sumo"] / per_hour["meso"],
        "speedup_over_sumo_micro_paired_median": paired["sumo"],
        "speedup_over_sumo_meso_paired_median": paired["meso"],
        "goal_over_micro": GOAL_OVER_MICRO,
        "goal_met": per_hour["sumo"] / art >= GOAL_OVER_MICRO,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--scenarios", nargs="+", default=["scenarios/cologne8.yaml", "scenarios/ingolstadt7.yaml"]
    )
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2, help="for the (untimed) calibration only")
    ap.add_argument("--name", default="city_speed")
    args = ap.parse_args()
    networks = {}
    for path in args.scenarios:
        sc = load_city(path)
        networks[sc.name] = _measure(sc, args.repeats, args.workers)
    write_result(
        args.name,
        {
            "repeats": args.repeats,
            "networks": networks,
            "note": "every run alone on the machine, the three worlds interleaved repeat by "
            "repeat on the incumbent plan; medians. SUMO: the sumo process's wall time at its "
            "default 1 s step with edgeData, tripinfo and vehroute outputs; the twin: the "
            "whole CityTwin.run call, calibrated first (not timed)",
        },
    )


if __name__ == "__main__":
    main()
