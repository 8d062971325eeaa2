"""The artificial world: a mesoscopic SimPy model.

Vehicles are SimPy processes that move link by link at their desired speed. At a stop
line they join the approach's queue; ``lanes`` discharge processes per approach serve
the queue during green, one vehicle per saturation headway per lane. Signals are SimPy
processes. Every random value comes from a batched :class:`~parallel.traffic.artificial.behaviours.Buffer`,
with one child stream per activity (common random numbers across controls).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from typing import Any

import numpy as np
import pyarrow as pa
import simpy

from parallel.core.seeds import children
from parallel.traffic.artificial.behaviours import (
    ARRIVAL_MODELS,
    HEADWAY_MODELS,
    MIN_SPEED_KMH,
    SPEED_MODELS,
    Buffer,
    Sampler,
    uniform,
)
from parallel.traffic.observation import Observation, Recorder
from parallel.traffic.scenario import Plan
from parallel.traffic.signals import Signal, Timing, controller
from parallel.traffic.topology import Topology
from parallel.traffic.world import Params, WorldSpec

#: a vehicle that waits longer than this at a stop line before being served has stopped
STOP_WAIT_S = 2.0


class _Approach:
    __slots__ = ("link", "phase", "queue", "idle")

    def __init__(self, link: int, phase: int) -> None:
        self.link = link
        self.phase = phase
        self.queue: deque[simpy.Event] = deque()
        self.idle: list[simpy.Event] = []


def _kmh_to_mps(sample: Sampler) -> Sampler:
    def mps(rng: np.random.Generator, n: int) -> np.ndarray:
        return np.maximum(sample(rng, n), MIN_SPEED_KMH) / 3.6

    return mps


class _Model:
    """One replication's state. Built fresh for every run; nothing is global."""

    def __init__(
        self,
        spec: WorldSpec,
        topo: Topology,
        params: Params,
        plan: Plan,
        seed: np.random.SeedSequence,
        trace: bool = False,
    ) -> None:
        self.env = simpy.Environment()
        # vehicle id -> [(link, entered, reached the stop line, left)], only when asked
        self.trace: dict[int, list[tuple[int, float, float, float]]] | None = {} if trace else None
        self.spec, self.topo, self.params = spec, topo, params
        s_arr, s_speed, s_head, s_turn = children(seed, 4)
        beh = params.behaviours
        if beh.speed == "learned":
            # one stream per origin, each drawing batches from the learned generator
            learned = params.learned["speed"]
            self.origin_speeds: dict[str, Buffer] | None = {
                o: Buffer(
                    _kmh_to_mps(learned.sampler(o, params.speed_mean_kmh)),
                    np.random.default_rng(s),
                )
                for o, s in zip(topo.origins, children(s_speed, len(topo.origins)))
            }
        else:
            self.origin_speeds = None
        self.speeds = Buffer(
            SPEED_MODELS.get("normal")(params.speed_mean_kmh, params.speed_sd_kmh),
            np.random.default_rng(s_speed),
        )
        self.headways = Buffer(
            HEADWAY_MODELS.get(beh.headway)(params.saturation_headway_s, beh.headway_cv),
            np.random.default_rng(s_head),
        )
        self.turns = Buffer(uniform, np.random.default_rng(s_turn))
        self.arrival_rngs = {
            o: np.random.default_rng(s)
            for o, s in zip(topo.origins, children(s_arr, len(topo.origins)))
        }
        self.rec = Recorder(topo.links, spec.t0, spec.t1, spec.interval_s)
        self.length = topo.length.tolist()
        self.free = (topo.length / topo.speed).tolist()
        self.next_link = topo.next_link.tolist()
        tm, ts = spec.demand.turning_main, spec.demand.turning_side
        self.cum_main = (tm.left, tm.left + tm.through)
        self.cum_side = (ts.left, ts.left + ts.through)
        self.is_main = topo.main.tolist()
        self.timing = Timing(plan, spec.control.lost_time_s)
        self.signals = [Signal(self.env) for _ in range(topo.n_junctions)]
        for k, sig in enumerate(self.signals):
            self.env.process(controller(self.env, sig, self.timing, k))
        self.approaches: dict[int, _Approach] = {}
        for i in np.flatnonzero(topo.approach):
            ap = _Approach(int(i), 0 if topo.main[i] else 1)
            self.approaches[int(i)] = ap
            for _ in range(int(topo.lanes[i])):
                self.env.process(self._discharge(ap, self.signals[int(topo.junction[i])]))
        self._vid = 0

    # -- processes -----------------------------------------------------------------
    def _discharge(self, ap: _Approach, sig: Signal) -> Generator[simpy.Event, Any, None]:
        env = self.env
        while True:
            if not ap.queue:
                ev = env.event()
                ap.idle.append(ev)
                yield ev
                continue
            if not sig.green[ap.phase]:
                yield sig.wait_green(ap.phase)
                continue
            veh = ap.queue.popleft()
            served_at = env.now
            yield env.timeout(self.headways.next())
            veh.succeed(served_at)

    def _vehicle(self, vid: int, origin: str) -> Generator[simpy.Event, Any, None]:
        env, rec = self.env, self.rec
        t_in = env.now
        link = self.topo.entry_link[origin]
        v = self.speeds.next() if self.origin_speeds is None else self.origin_speeds[origin].next()
        stops = 0
        free = 0.0
        while True:
            t_link = env.now
            free += self.free[link]
            yield env.timeout(self.length[link] / v)
            ap = self.approaches.get(link)
            if ap is not None:
                ev = env.event()
                t_q = env.now
                ap.queue.append(ev)
                rec.queue(link, t_q, len(ap.queue))
                if ap.idle:
                    ap.idle.pop().succeed()
                served_at = yield ev
                if served_at - t_q > STOP_WAIT_S:
                    stops += 1
            rec.crossing(link, env.now, self.length[link], env.now - t_link)
            if self.trace is not None:
                self.trace.setdefault(vid, []).append(
                    (link, t_link, t_q if ap is not None else env.now, env.now)
                )
            if ap is None:
                rec.finish(vid, origin, self.topo.exit_node[link], t_in, env.now, free, stops)
                return
            u = self.turns.next()
            cum = self.cum_main if self.is_main[link] else self.cum_side
            turn = 0 if u < cum[0] else (1 if u < cum[1] else 2)
            link = self.next_link[link][turn]

    def _source(self, origin: str, rate: float) -> Generator[simpy.Event, Any, None]:
        if self.params.behaviours.arrivals == "learned":
            model = self.params.learned["arrivals"].sampler(origin, 3600.0 / rate)
        else:
            model = ARRIVAL_MODELS.get(self.params.behaviours.arrivals)(rate)
        gaps = Buffer(model, self.arrival_rngs[origin], size=1024)
        end = self.spec.t1
        while True:
            yield self.env.timeout(gaps.next())
            if self.env.now >= end:
                return
            self._vid += 1
            self.env.process(self._vehicle(self._vid, origin))

    def run(self) -> Observation:
        for o in self.topo.origins:
            self.env.process(self._source(o, self.params.demand[o]))
        self.env.run(until=self.spec.t1)
        return self.rec.observation({"world": "artificial"})


def simulate(
    spec: WorldSpec,
    params: Params,
    plan: Plan,
    seed: np.random.SeedSequence,
    topo: Topology | None = None,
) -> Observation:
    """Run the artificial world once.

    Args:
        spec: the public description of the system.
        params: demand, saturation headway and speed distribution.
        plan: the signal plan in force.
        seed: this replication's seed; children are spawned per activity.
        topo: a prebuilt topology, to save rebuilding it for every run.
    """
    topo = topo or spec.topology()
    obs = _Model(spec, topo, params, plan, seed).run()
    obs.meta.update(plan=plan.model_dump(mode="json"))
    return obs


def simulate_driving(
    spec: WorldSpec,
    params: Params,
    plan: Plan,
    seed: np.random.SeedSequence,
    run: str,
    topo: Topology | None = None,
) -> pa.Table:
    """One replication's vehicle records with their trajectories, as an Arrow table.

    Each row is a vehicle that left the network in the measured horizon: the columns of
    ``VEHICLE_SCHEMA`` plus ``run`` (which replication) and the trajectory as list columns
    ``links``, ``t_enter_s``, ``t_stopline_s`` and ``t_exit_s`` (one entry per link: when
    the vehicle entered it, reached its stop line and left it).
    """
    topo = topo or spec.topology()
    model = _Model(spec, topo, params, plan, seed, trace=True)
    veh = model.run().vehicles
    assert model.trace is not None
    legs = [model.trace[v] for v in veh["vehicle_id"].tolist()]
    names = topo.links
    table = pa.Table.from_pandas(veh, preserve_index=False)
    return (
        table.append_column("run", pa.array([run] * len(veh), pa.string()))
        .append_column(
            "links",
            pa.array([[names[leg[0]] for leg in path] for path in legs], pa.list_(pa.string())),
        )
        .append_column(
            "t_enter_s",
            pa.array([[leg[1] for leg in path] for path in legs], pa.list_(pa.float64())),
        )
        .append_column(
            "t_stopline_s",
            pa.array([[leg[2] for leg in path] for path in legs], pa.list_(pa.float64())),
        )
        .append_column(
            "t_exit_s",
            pa.array([[leg[3] for leg in path] for path in legs], pa.list_(pa.float64())),
        )
    )
