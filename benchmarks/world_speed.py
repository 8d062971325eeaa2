"""Artificial world against reference world (wall time per simulated hour, same network and
demand), and the artificial world's SimPy events per second against a bare SimPy M/M/1,
all measured in the same run.

    python -m benchmarks.world_speed [--scenario scenarios/intersection.yaml] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from benchmarks._common import write_result
from parallel.actual.reference import ReferenceWorld
from parallel.scenario import ReferenceWorld as ReferenceCfg
from parallel.scenario import load
from parallel.sim.model import _Model
from parallel.sim.network import topology
from parallel.world import Params, WorldSpec


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
    assert isinstance(sc.actual, ReferenceCfg)
    spec = WorldSpec.of(sc)
    truth = sc.actual.truth
    params = Params(dict(truth.demand), 2.0, truth.speed.mean_kmh, truth.speed.sd_kmh)
    topo = topology(spec.network)
    sim_hours = spec.t1 / 3600
    plan = sc.control.initial

    art_wall, art_events, art_veh = [], [], []
    ref_wall, ref_veh = [], []
    mm1_wall, mm1_events = [], []
    world = ReferenceWorld(spec, truth, sc.actual.step_s)
    for r in range(args.repeats):
        seed = np.random.SeedSequence(100 + r)
        t0 = time.perf_counter()
        model = _Model(spec, topo, params, plan, seed)
        obs = model.run()
        art_wall.append(time.perf_counter() - t0)
        art_events.append(events(model.env))
        art_veh.append(len(obs.vehicles))
        t0 = time.perf_counter()
        robs = world.observe(plan, seed)
        ref_wall.append(time.perf_counter() - t0)
        ref_veh.append(len(robs.vehicles))
        w, e = mm1(3600.0 * 20, 1.0, 1.25, r)
        mm1_wall.append(w)
        mm1_events.append(e)

    art = float(np.median(art_wall)) / sim_hours
    ref = float(np.median(ref_wall)) / sim_hours
    art_eps = float(np.median(np.array(art_events) / np.array(art_wall)))
    mm1_eps = float(np.median(np.array(mm1_events) / np.array(mm1_wall)))
    write_result("world_speed", {
        "scenario": sc.name,
        "simulated_hours_per_run": sim_hours,
        "vehicles_per_run": {"artificial": float(np.mean(art_veh)), "reference": float(np.mean(ref_veh))},
        "artificial_wall_s_per_sim_hour": art,
        "reference_wall_s_per_sim_hour": ref,
        "speedup_artificial_over_reference": ref / art,
        "artificial_events_per_s": art_eps,
        "bare_simpy_mm1_events_per_s": mm1_eps,
        "events_per_s_ratio_artificial_over_mm1": art_eps / mm1_eps,
        "repeats": args.repeats,
        "note": "medians over repeats; reference = microscopic IDM at step_s, artificial = mesoscopic SimPy",
    })


if __name__ == "__main__":
    main()
