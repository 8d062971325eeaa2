"""The reference world: microscopic, car-following, with hidden truth.

It differs in structure from the artificial world on purpose, so that calibrating the
artificial world to it proves something:

* every vehicle is integrated in time (``step_s``, 0.5 s by default) with the
  Intelligent Driver Model (Treiber et al. 2000), vectorised over all vehicles;
* drivers are heterogeneous (desired speed and time headway per driver);
* vehicles keep to a lane; a red (or an amber they can stop for) is a standing
  obstacle at the stop line; saturation headways *emerge* from car following;
* arrivals are Poisson with hidden rates; a vehicle enters only when its lane has room.

The artificial world has none of these: its vehicles jump from stop line to stop line
and queues discharge at a fixed mean headway.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from parallel.core.seeds import children
from parallel.traffic.observation import Observation, Recorder
from parallel.traffic.scenario import Plan, Truth
from parallel.traffic.signals import Timing
from parallel.traffic.topology import Topology
from parallel.traffic.world import WorldSpec

MAX_DECEL = 4.5  # m/s², beyond which a driver runs an amber rather than stops
HALT_V = 0.5  # below this speed a vehicle has stopped, m/s
QUEUE_V = 2.0  # below this speed (on an approach) a vehicle counts as queued, m/s


class ReferenceWorld:
    """A microscopic IDM world; ``truth`` is its hidden parameter set."""

    name = "reference"
    actionable = True

    def __init__(self, spec: WorldSpec, truth: Truth, step_s: float = 0.5) -> None:
        self.spec, self.truth, self.step = spec, truth, step_s
        self.topo: Topology = spec.topology()

    def observe(self, plan: Plan, seed: np.random.SeedSequence) -> Observation:
        obs = _simulate(self.spec, self.topo, self.truth, plan, seed, self.step)
        obs.meta.update(world="reference", plan=plan.model_dump(mode="json"))
        return obs


def _arrivals(rate: float, t_end: float, rng: np.random.Generator) -> np.ndarray:
    n = int(rate * t_end / 3600 * 1.5 + 50)
    t = np.cumsum(rng.exponential(3600.0 / rate, n))
    while t[-1] < t_end:  # pragma: no cover - extremely unlikely with the 1.5 margin
        t = np.concatenate([t, t[-1] + np.cumsum(rng.exponential(3600.0 / rate, n))])
    return t[t < t_end]


#: per-vehicle state arrays of the reference world, grown together
_FIELDS: dict[str, type] = {
    "act": bool, "link": np.int64, "lane": np.int64, "x": float, "v": float, "v0": float,
    "tau": float, "halted": bool, "stops": np.int64, "t_in": float, "t_link": float,
    "free": float, "vid": np.int64, "orig": np.int64,
}  # fmt: skip


class _State:
    """One replication of the IDM world: vehicle arrays and one method per step.

    Each time step sorts vehicles into lanes to find leaders (:meth:`_leaders`), makes the
    front vehicle of an approach stop for red or amber (:meth:`_stop_lines`), integrates the
    IDM (:meth:`_move`), moves vehicles across stop lines (:meth:`_cross`) and lets new
    vehicles in where their lane has room (:meth:`_arrive`).
    """

    def __init__(
        self,
        spec: WorldSpec,
        topo: Topology,
        truth: Truth,
        plan: Plan,
        seed: np.random.SeedSequence,
        dt: float,
    ) -> None:
        s_arr, s_drv, s_turn = children(seed, 3)
        self.drv_rng = np.random.default_rng(s_drv)
        self.turn_rng = np.random.default_rng(s_turn)
        self.spec, self.topo, self.truth, self.dt = spec, topo, truth, dt
        self.origins = topo.origins
        self.arrivals = {
            o: deque(_arrivals(truth.demand[o], spec.t1, np.random.default_rng(s)).tolist())
            for o, s in zip(self.origins, children(s_arr, len(self.origins)))
        }
        self.pending: dict[str, deque[float]] = {o: deque() for o in self.origins}
        self.L = len(topo.links)
        self.max_lanes = int(topo.lanes.max())
        self.junction = np.where(topo.junction >= 0, topo.junction, 0)
        self.phase = np.where(topo.main, 0, 1)
        tm, ts = spec.demand.turning_main, spec.demand.turning_side
        self.cum = np.array([[ts.left, ts.left + ts.through], [tm.left, tm.left + tm.through]])
        self.timing = Timing(plan, spec.control.lost_time_s)
        self.rec = Recorder(topo.links, spec.t0, spec.t1, spec.interval_s)
        d = truth.driver
        self.a, self.b, self.s0, self.vlen = d.max_accel, d.comfort_decel, d.min_gap_m, d.length_m
        self.sqrt_ab = 2.0 * np.sqrt(self.a * self.b)
        self.origin_idx = {o: i for i, o in enumerate(self.origins)}
        self.next_id = 0
        self.cap = 512
        self.arr: dict[str, np.ndarray] = {k: np.zeros(self.cap, f) for k, f in _FIELDS.items()}
        self.arr["v0"][:] = 1.0
        self.arr["tau"][:] = 1.0
        self.free_slots: list[int] = list(range(self.cap - 1, -1, -1))

    def _grow(self) -> None:
        self.arr = {k: np.concatenate([a, np.zeros_like(a)]) for k, a in self.arr.items()}
        self.free_slots.extend(range(2 * self.cap - 1, self.cap - 1, -1))
        self.cap *= 2

    def run(self) -> Observation:
        n_steps = int(np.ceil(self.spec.t1 / self.dt))
        for step in range(n_steps):
            t = step * self.dt
            si, ks, xs, vs, gap, vl, tail, tail_v = self._leaders()
            self._stop_lines(t, si, xs, vs, gap)
            if len(si):
                self._move(t, si, xs, vs, gap, vl)
                self._cross(t, si, tail)
            self._arrive(t, tail, tail_v)
        return self.rec.observation({})

    def _leaders(self) -> tuple[np.ndarray, ...]:
        """Active vehicles sorted by (lane, position), their gaps and leaders' speeds, and
        each lane's tail (smallest position) for entries and lane choice."""
        A, ml = self.arr, self.max_lanes
        idx = np.flatnonzero(A["act"])
        key = A["link"][idx] * ml + A["lane"][idx]
        order = np.lexsort((A["x"][idx], key))
        si = idx[order]
        ks = key[order]
        xs = A["x"][si]
        vs = A["v"][si]
        n = len(si)
        gap = np.full(n, np.inf)
        vl = np.zeros(n)
        if n > 1:
            same = ks[1:] == ks[:-1]
            gap[:-1] = np.where(same, xs[1:] - xs[:-1] - self.vlen, np.inf)
            vl[:-1] = np.where(same, vs[1:], 0.0)
        tail = np.full(self.L * ml, np.inf)
        tail_v = np.zeros(self.L * ml)
        if n:
            first = np.ones(n, bool)
            first[1:] = ks[1:] != ks[:-1]
            tail[ks[first]] = xs[first]
            tail_v[ks[first]] = vs[first]
        return si, ks, xs, vs, gap, vl, tail, tail_v

    def _stop_lines(
        self, t: float, si: np.ndarray, xs: np.ndarray, vs: np.ndarray, gap: np.ndarray
    ) -> None:
        """Front vehicles on an approach facing red (or amber they can stop for) treat the
        stop line as a standstill leader."""
        front = np.isinf(gap)
        if not front.any():
            return
        topo = self.topo
        fl = self.arr["link"][si[front]]
        green, amber = self.timing.state(t, self.junction[fl], self.phase[fl])
        dist = topo.length[fl] - xs[front]
        can_stop = dist > vs[front] ** 2 / (2 * MAX_DECEL)
        stop = topo.approach[fl] & (~green) & (~amber | can_stop)
        g = gap[front]
        g[stop] = dist[stop] + self.s0  # the stop line itself is the standstill point
        gap[front] = g

    def _move(
        self,
        t: float,
        si: np.ndarray,
        xs: np.ndarray,
        vs: np.ndarray,
        gap: np.ndarray,
        vl: np.ndarray,
    ) -> None:
        """One IDM step for every vehicle; halts, stops and queues recorded."""
        A, dt = self.arr, self.dt
        dv = vs - vl
        s_star = self.s0 + np.maximum(0.0, vs * A["tau"][si] + vs * dv / self.sqrt_ab)
        with np.errstate(divide="ignore", invalid="ignore"):
            inter = np.where(np.isinf(gap), 0.0, (s_star / np.maximum(gap, 0.1)) ** 2)
        acc = self.a * (1.0 - (vs / A["v0"][si]) ** 4 - inter)
        vn = np.maximum(vs + acc * dt, 0.0)
        A["x"][si] = xs + 0.5 * (vs + vn) * dt
        A["v"][si] = vn
        h = A["halted"][si]
        A["stops"][si] += (vn < HALT_V) & ~h
        A["halted"][si] = np.where(vn < HALT_V, True, np.where(vn > 3.0, False, h))
        slow = si[(vn < QUEUE_V) & self.topo.approach[A["link"][si]]]
        self.rec.queue_many(t, np.bincount(A["link"][slow], minlength=self.L).astype(float))

    def _cross(self, t: float, si: np.ndarray, tail: np.ndarray) -> None:
        """Vehicles past their stop line turn onto the next link, or leave the network."""
        A, topo, dt = self.arr, self.topo, self.dt
        length = topo.length
        crossed = si[A["x"][si] >= length[A["link"][si]]]
        for i in crossed.tolist():
            li = int(A["link"][i])
            self.rec.crossing(li, t, length[li], t + dt - A["t_link"][i])
            if not topo.approach[li]:
                self.rec.finish(
                    int(A["vid"][i]),
                    self.origins[A["orig"][i]],
                    topo.exit_node[li],
                    float(A["t_in"][i]),
                    t + dt,
                    float(A["free"][i]),
                    int(A["stops"][i]),
                )
                A["act"][i] = False
                self.free_slots.append(i)
                continue
            u = self.turn_rng.random()
            c = self.cum[int(topo.main[li])]
            nl = int(topo.next_link[li, 0 if u < c[0] else (1 if u < c[1] else 2)])
            A["x"][i] -= length[li]
            keys = nl * self.max_lanes + np.arange(topo.lanes[nl])
            A["lane"][i] = int(np.argmax(tail[keys]))
            A["link"][i] = nl
            A["t_link"][i] = t + dt
            A["free"][i] += length[nl] / topo.speed[nl]

    def _arrive(self, t: float, tail: np.ndarray, tail_v: np.ndarray) -> None:
        """Arrivals due by the end of the step enter where the entry lane has room."""
        topo, d = self.topo, self.truth.driver
        t_next = t + self.dt
        for o in self.origins:
            q = self.arrivals[o]
            while q and q[0] < t_next:
                self.pending[o].append(q.popleft())
            if not self.pending[o]:
                continue
            el = topo.entry_link[o]
            keys = el * self.max_lanes + np.arange(topo.lanes[el])
            best = int(np.argmax(tail[keys]))
            room = tail[keys[best]] - self.vlen
            speed = self.truth.speed
            v_des = max(self.drv_rng.normal(speed.mean_kmh, speed.sd_kmh), 5.0) / 3.6
            v_in = v_des if np.isinf(room) else min(v_des, tail_v[keys[best]])
            if room < self.s0 + v_in * 1.0:
                continue
            self.pending[o].popleft()
            if not self.free_slots:
                self._grow()
            i = self.free_slots.pop()
            self.next_id += 1
            A = self.arr
            A["act"][i] = True
            A["link"][i], A["lane"][i], A["x"][i], A["v"][i] = el, best, 0.0, v_in
            A["v0"][i] = v_des
            A["tau"][i] = max(self.drv_rng.normal(d.time_headway_s, d.time_headway_sd_s), 0.5)
            A["halted"][i] = False
            A["stops"][i] = 0
            A["t_in"][i] = A["t_link"][i] = t_next
            A["free"][i] = topo.length[el] / topo.speed[el]
            A["vid"][i] = self.next_id
            A["orig"][i] = self.origin_idx[o]
            tail[keys[best]] = 0.0


def _simulate(
    spec: WorldSpec,
    topo: Topology,
    truth: Truth,
    plan: Plan,
    seed: np.random.SeedSequence,
    dt: float,
) -> Observation:
    return _State(spec, topo, truth, plan, seed, dt).run()
