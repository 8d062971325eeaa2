"""The artificial world on any SUMO network: mesoscopic SimPy with link storage.

Vehicles are SimPy processes that follow their route edge by edge. On an edge a vehicle
drives at its desired speed (speed limit x its speed factor) to the stop line, where it
joins the queue of its movement (the edge it turns into). One server process per
movement discharges its queue, one vehicle per saturation headway per lane, when:

* the movement's signal shows green (``G``; ``g`` and unsignalised minor movements also
  need a gap: no vehicle of a movement with right of way passed in the last
  ``critical_gap_s``, and none with right of way is waiting at a green); amber and
  all-red come from the program, and every green starts with ``startup_lost_s``;
* **the next edge has room**: its storage is length x lanes / jam spacing (at least one
  vehicle). This one rule makes spillback and blocking emerge, across junctions too.

Gridlock is resolved as SUMO resolves it: a vehicle blocked for ``teleport_s`` at the head
of its queue jumps to the next edge anyway, and the jump is counted (``teleports``).

Random values (departure times, speed factors) are drawn in batches from named child
streams of the replication's seed: never one call per vehicle.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import simpy

from parallel.core.seeds import children
from parallel.traffic.demand import RouteDemand
from parallel.traffic.observation import (
    VEHICLE_SCHEMA,
    Observation,
    compute_kpis,
    detector_table,
)
from parallel.traffic.roadnet import RoadNet
from parallel.traffic.timing import TimingPlan, phases

#: a vehicle that waited longer than this at a stop line has stopped
STOP_WAIT_S = 2.0


@dataclass(frozen=True)
class MesoParams:
    """The artificial world's behaviour on a real network (the calibrated parameters)."""

    saturation_headway_s: float = 2.0
    jam_spacing_m: float = 7.0
    speed_factor_mean: float = 1.0
    speed_factor_sd: float = 0.1
    startup_lost_s: float = 2.0
    critical_gap_s: float = 4.0
    stop_penalty_s: float = 2.0
    teleport_s: float = 300.0

    def flat(self) -> dict[str, float]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Horizon:
    """Where the observed hour lies: ``begin_s`` is the network clock at time 0 (signal
    programs run on it); records and counts are kept on ``[0, duration_s)``."""

    begin_s: float
    duration_s: float
    interval_s: float


class _Meso:
    """One replication's state. Built fresh for every run; nothing is global."""

    def __init__(
        self,
        net: RoadNet,
        plan: TimingPlan,
        demand: RouteDemand,
        params: MesoParams,
        horizon: Horizon,
        seed: np.random.SeedSequence,
    ) -> None:
        self.env = simpy.Environment()
        self.net, self.p, self.h, self.demand = net, params, horizon, demand
        edges = net.edges
        self.length = [e.length_m for e in edges]
        self.speed = [e.speed_mps for e in edges]
        self.cap = [max(1, int(e.length_m * e.lanes / params.jam_spacing_m)) for e in edges]
        self.occ = [0] * len(edges)
        self.room: list[simpy.Event | None] = [None] * len(edges)
        nm = len(net.movements)
        self.queues: list[deque[simpy.Event]] = [deque() for _ in range(nm)]
        self.idle: list[simpy.Event | None] = [None] * nm
        self.last_pass = [-1e9] * nm
        self.teleports = 0
        self.s_dep, self.s_speed = children(seed, 2)
        n_int = max(int(np.ceil(horizon.duration_s / horizon.interval_s - 1e-9)), 1)
        self.n_int = n_int
        self.count = np.zeros((len(edges), n_int), np.int64)
        self.speed_sum = np.zeros((len(edges), n_int))
        self.wait = np.zeros((len(edges), n_int))
        self.rows: list[tuple] = []
        self.light: dict[str, str] = {}
        self.changed: dict[str, simpy.Event] = {}
        for tls, prog in net.programs.items():
            if tls in plan.programs:
                self.env.process(
                    self._controller(
                        tls, phases(prog, plan.programs[tls]), plan.programs[tls].offset_s
                    )
                )
        for m in range(nm):
            self.env.process(self._server(m))

    # -- signals ---------------------------------------------------------------------
    def _controller(self, tls: str, ph: list[Any], offset: float) -> Generator:
        env = self.env
        durations = [p.duration_s for p in ph]
        cycle = sum(durations)
        # SUMO: the program is at position (t - offset) mod cycle on the network clock
        pos = (self.h.begin_s - offset) % cycle
        k = 0
        while pos >= durations[k]:
            pos -= durations[k]
            k = (k + 1) % len(ph)
        self.changed[tls] = env.event()
        remaining = durations[k] - pos
        while True:
            self.light[tls] = ph[k].state
            ev, self.changed[tls] = self.changed[tls], env.event()
            ev.succeed()
            yield env.timeout(remaining)
            k = (k + 1) % len(ph)
            remaining = durations[k]
            while remaining <= 0:
                k = (k + 1) % len(ph)
                remaining = durations[k]

    def _colour(self, m: int) -> str:
        mv = self.net.movements[m]
        if mv.tls is None or mv.tls not in self.light:
            return "-"  # unsignalised (or a light without a program): right of way rules
        state = self.light[mv.tls]
        cs = [state[i] for i in mv.link_indices if i < len(state)]
        if "G" in cs:
            return "G"
        if "g" in cs:
            return "g"
        return "r"

    def _may_pass(self, m: int) -> bool:
        """Gap acceptance against the movements with right of way."""
        now = self.env.now
        mv = self.net.movements[m]
        for o in mv.yields_to:
            if now - self.last_pass[o] < self.p.critical_gap_s:
                return False
            if self.queues[o]:
                c = self._colour(o)
                major = c == "G" or (c == "-" and self.net.movements[o].state in "MO")
                if major:
                    return False
        return True

    # -- storage -----------------------------------------------------------------------
    def _room(self, e: int) -> simpy.Event:
        ev = self.room[e]
        if ev is None:
            ev = self.room[e] = self.env.event()
        return ev

    def _free(self, e: int) -> None:
        self.occ[e] -= 1
        ev = self.room[e]
        if ev is not None:
            self.room[e] = None
            ev.succeed()

    # -- processes ------------------------------------------------------------------------
    def _server(self, m: int) -> Generator:
        env, p = self.env, self.p
        mv = self.net.movements[m]
        q, e, f = self.queues[m], mv.from_edge, mv.to_edge
        gap_rule = bool(mv.yields_to)
        minor = mv.state not in "MO"
        service = p.saturation_headway_s / max(mv.lanes, 1)
        was_red = True
        blocked_since = -1.0
        while True:
            if not q:
                self.idle[m] = ev = env.event()
                yield ev
                continue
            c = self._colour(m)
            if c == "r":
                was_red = True
                yield self.changed[mv.tls]  # type: ignore[index]
                continue
            if was_red and c != "-":
                was_red = False
                yield env.timeout(p.startup_lost_s)
                continue
            if gap_rule and (c == "g" or (c == "-" and minor)) and not self._may_pass(m):
                yield env.timeout(0.5)
                continue
            if self.occ[f] >= self.cap[f]:
                if blocked_since < 0:
                    blocked_since = env.now
                left = p.teleport_s - (env.now - blocked_since)
                if left > 0:
                    yield env.any_of([self._room(f), env.timeout(left)])
                    continue
                self.teleports += 1
            blocked_since = -1.0
            veh = q.popleft()
            self.occ[f] += 1
            self._free(e)
            self.last_pass[m] = env.now
            veh.succeed()
            yield env.timeout(service)

    def _vehicle(self, vid: int, r: int, factor: float) -> Generator:
        env = self.env
        route = self.demand.routes[r]
        movs = self.demand_movements[r]
        e = route[0]
        while self.occ[e] >= self.cap[e]:  # SUMO delays the insertion, so do we
            yield self._room(e)
        self.occ[e] += 1
        t_in = env.now
        stops = 0
        last = len(route) - 1
        for k, e in enumerate(route):
            t_link = env.now
            yield env.timeout(self.length[e] / (self.speed[e] * factor))
            if k == last:
                self._free(e)
                self._crossed(e, t_link)
                self._finish(vid, r, t_in, stops)
                return
            m = movs[k]
            ev = env.event()
            t_q = env.now
            self.queues[m].append(ev)
            idle = self.idle[m]
            if idle is not None:
                self.idle[m] = None
                idle.succeed()
            yield ev
            if env.now - t_q > STOP_WAIT_S:
                stops += 1
                self._waited(e, t_q, env.now)
                self._crossed(e, t_link)
                yield env.timeout(self.p.stop_penalty_s)  # accelerating from a stop
            else:
                self._crossed(e, t_link)

    def _source(self) -> Generator:
        times, routes = self.demand.departures(
            np.random.default_rng(self.s_dep), self.h.duration_s, self.h.interval_s
        )
        rng = np.random.default_rng(self.s_speed)
        factors = np.clip(
            rng.normal(self.p.speed_factor_mean, self.p.speed_factor_sd, len(times)), 0.2, 2.0
        )
        env = self.env
        for vid, (t, r, fct) in enumerate(zip(times.tolist(), routes.tolist(), factors.tolist())):
            if t > env.now:
                yield env.timeout(t - env.now)
            env.process(self._vehicle(vid, r, fct))

    # -- records --------------------------------------------------------------------------
    def _slot(self, t: float) -> int:
        k = int(t // self.h.interval_s)
        return k if 0 <= k < self.n_int else -1

    def _crossed(self, e: int, t_link: float) -> None:
        now = self.env.now
        k = self._slot(now)
        if k >= 0:
            self.count[e, k] += 1
            self.speed_sum[e, k] += 3.6 * self.length[e] / max(now - t_link, 1e-6)

    def _waited(self, e: int, t_a: float, t_b: float) -> None:
        """Waiting seconds spread over the intervals they fall in (SUMO's waitingTime)."""
        dt = self.h.interval_s
        while t_a < t_b:
            k = self._slot(t_a)
            end = min(t_b, (int(t_a // dt) + 1) * dt)
            if k >= 0:
                self.wait[e, k] += end - t_a
            t_a = end

    def _finish(self, vid: int, r: int, t_in: float, stops: int) -> None:
        now = self.env.now
        if now < self.h.duration_s:
            tt = now - t_in
            route = self.demand.routes[r]
            self.rows.append(
                (
                    vid,
                    self.net.edges[route[0]].id,
                    self.net.edges[route[-1]].id,
                    t_in,
                    now,
                    tt,
                    max(tt - self.free[r], 0.0),
                    stops,
                )
            )

    def run(self) -> Observation:
        net = self.net
        self.demand_movements = [_movements(net, rt) for rt in self.demand.routes]
        self.free = [net.free_time_s(rt) for rt in self.demand.routes]
        t0 = time.perf_counter()
        self.env.process(self._source())
        self.env.run(until=self.h.duration_s)
        wall = time.perf_counter() - t0
        return self._observation(wall)

    def _observation(self, wall: float) -> Observation:
        veh = pd.DataFrame(self.rows, columns=list(VEHICLE_SCHEMA)).astype(VEHICLE_SCHEMA)
        with np.errstate(invalid="ignore", divide="ignore"):
            speed = np.where(self.count > 0, self.speed_sum / np.maximum(self.count, 1), np.nan)
        names = [e.id for e in self.net.edges]
        det = detector_table(names, self.count, speed, self.wait, self.h.interval_s)
        kpis = compute_kpis(veh, det, self.h.duration_s)
        return Observation(
            veh, det, kpis, {"world": "artificial", "teleports": self.teleports, "sim_wall_s": wall}
        )


def _movements(net: RoadNet, route: tuple[int, ...]) -> list[int]:
    out = []
    for a, b in zip(route, route[1:]):
        m = net.movement(a, b)
        if m is None:
            raise ValueError(f"route edges {net.edges[a].id} -> {net.edges[b].id} do not connect")
        out.append(m)
    return out


def simulate_net(
    net: RoadNet,
    plan: TimingPlan,
    demand: RouteDemand,
    params: MesoParams,
    horizon: Horizon,
    seed: np.random.SeedSequence,
) -> Observation:
    """Run the artificial world once on a real network.

    Args:
        net: the network (from :func:`parallel.traffic.roadnet.read_net`).
        plan: the signal plan in force.
        demand: route flows (estimated from counts and probes, never the trip file).
        params: behaviour parameters.
        horizon: the observed window.
        seed: this replication's seed; one child stream per random activity.
    """
    obs = _Meso(net, plan, demand, params, horizon, seed).run()
    obs.meta["plan"] = plan.label
    return obs
