"""Artificial world against the scenario's actual world (reference or SUMO) (wall time per simulated hour, same network and
demand), and the artificial world's SimPy events per second against a bare SimPy M/M/1,
all measured in the same run.

    python -m benchmarks.world_speed [--scenario scenarios/intersection.yaml] [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Generator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import simpy

from benchmarks._common import write_result
from parallel.traffic.actual import make_actual
from parallel.traffic.artificial.model import _Model
from parallel.traffic.scenario import load
from parallel.traffic.world import Params, WorldSpec


def events(env: simpy.Environment) -> int:
    """Events scheduled so far (SimPy numbers every scheduled event; reading consumes one)."""
    return next(env._eid)  # type: ignore[attr-defined]


def mm1(horizon: float, lam: float, mu: float, seed: int) -> tuple[float, int]:
    """A bare SimPy M/M/1 queue; returns (wall s, events)."""
    env = simpy.Environment()
    server = simpy.Resource(env, 1)
    rng = np.random.default_rng(seed)
    arr = rng.exponential(1 / lam, 2_000_000).tolist()
    svc = rng.exponential(1 / mu, 2_000_000).tolist()

    def customer(i: int) -> Generator[Any, Any, None]:
        with server.request() as req:
            yield req
            yield env.timeout(svc[i])

    def source() -> Generator[Any, Any, None]:
        for i, gap in enumerate(arr):
            yield env.timeout(gap)
            env.process(customer(i))

    env.process(source())
    t0 = time.perf_counter()
    env.run(until=horizon)
    return time.perf_counter() - t0, events(env)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenario", default="scenarios/intersection.yaml")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    sc = load(args.scenario)
    assert sc.actual.world in ("reference", "sumo"), "needs a simulated actual world"
    truth = sc.actual.truth  # type: ignore[union-attr]
    with tempfile.TemporaryDirectory(prefix="parallel-bench-") as tmp:
        world = make_actual(sc, Path(tmp))
        spec = replace(WorldSpec.of(sc), net_file=getattr(world, "net_file", None))
        params = Params(dict(truth.demand), 2.0, truth.speed.mean_kmh, truth.speed.sd_kmh)
        topo = spec.topology()
        sim_hours = spec.t1 / 3600
        plan = sc.control.initial
        art_wall, art_events, art_veh = [], [], []
        act_wall, act_sim_wall, act_veh = [], [], []
        mm1_wall, mm1_events = [], []
        for r in range(args.repeats):
            seed = np.random.SeedSequence(100 + r)
            t0 = time.perf_counter()
            model = _Model(spec, topo, params, plan, seed)
            obs = model.run()
            art_wall.append(time.perf_counter() - t0)
            art_events.append(events(model.env))
            art_veh.append(len(obs.vehicles))
            t0 = time.perf_counter()
            aobs = world.observe(plan, seed)
            act_wall.append(time.perf_counter() - t0)
            act_sim_wall.append(aobs.meta.get("sumo_sim_wall_s") or act_wall[-1])
            act_veh.append(len(aobs.vehicles))
            w, e = mm1(3600.0 * 20, 1.0, 1.25, r)
            mm1_wall.append(w)
            mm1_events.append(e)
    art = float(np.median(art_wall)) / sim_hours
    act = float(np.median(act_wall)) / sim_hours
    act_sim = float(np.median(act_sim_wall)) / sim_hours
    art_eps = float(np.median(np.array(art_events) / np.array(art_wall)))
    mm1_eps = float(np.median(np.array(mm1_events) / np.array(mm1_wall)))
    name = sc.actual.world
    write_result(
        f"world_speed_{sc.name}",
        {
            "scenario": sc.name,
            "actual_world": name,
            "simulated_hours_per_run": sim_hours,
            "vehicles_per_run": {
                "artificial": float(np.mean(art_veh)),
                name: float(np.mean(act_veh)),
            },
            "artificial_wall_s_per_sim_hour": art,
            f"{name}_wall_s_per_sim_hour": act,
            f"{name}_simulation_only_wall_s_per_sim_hour": act_sim,
            f"speedup_artificial_over_{name}": act / art,
            f"speedup_artificial_over_{name}_simulation_only": act_sim / art,
            "artificial_events_per_s": art_eps,
            "bare_simpy_mm1_events_per_s": mm1_eps,
            "events_per_s_ratio_artificial_over_mm1": art_eps / mm1_eps,
            "repeats": args.repeats,
            "note": "medians over repeats. For SUMO, 'wall' is what one observation costs the loop "
            "(process start, route and tlLogic files, libsumo run, parsing outputs); "
            "'simulation only' is libsumo's start-to-close time inside the worker",
        },
    )


if __name__ == "__main__":
    main()
