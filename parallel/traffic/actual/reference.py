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
from parallel.traffic.network import Topology
from parallel.traffic.observation import Observation, Recorder
from parallel.traffic.scenario import Plan, Truth
from parallel.traffic.signals import Timing
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


def _simulate(
    spec: WorldSpec,
    topo: Topology,
    truth: Truth,
    plan: Plan,
    seed: np.random.SeedSequence,
    dt: float,
) -> Observation:
    s_arr, s_drv, s_turn = children(seed, 3)
    drv_rng = np.random.default_rng(s_drv)
    turn_rng = np.random.default_rng(s_turn)
    d = truth.driver
    t_end = spec.t1
    origins = topo.origins
    arrivals = {
        o: deque(_arrivals(truth.demand[o], t_end, np.random.default_rng(s)).tolist())
        for o, s in zip(origins, children(s_arr, len(origins)))
    }
    pending: dict[str, deque[float]] = {o: deque() for o in origins}

    L = len(topo.links)
    max_lanes = int(topo.lanes.max())
    length = topo.length
    lanes = topo.lanes
    link_speed = topo.speed
    approach = topo.approach
    junction = np.where(topo.junction >= 0, topo.junction, 0)
    phase = np.where(topo.main, 0, 1)
    next_link = topo.next_link
    tm, ts = spec.demand.turning_main, spec.demand.turning_side
    cum = np.array([[ts.left, ts.left + ts.through], [tm.left, tm.left + tm.through]])
    timing = Timing(plan, spec.control.lost_time_s)
    rec = Recorder(topo.links, spec.t0, spec.t1, spec.interval_s)

    cap = 512
    act = np.zeros(cap, bool)
    link = np.zeros(cap, np.int64)
    lane = np.zeros(cap, np.int64)
    x = np.zeros(cap)
    v = np.zeros(cap)
    v0 = np.ones(cap)
    tau = np.ones(cap)
    halted = np.zeros(cap, bool)
    stops = np.zeros(cap, np.int64)
    t_in = np.zeros(cap)
    t_link = np.zeros(cap)
    free = np.zeros(cap)
    vid = np.zeros(cap, np.int64)
    orig = np.zeros(cap, np.int64)
    a, b, s0, vlen = d.max_accel, d.comfort_decel, d.min_gap_m, d.length_m
    sqrt_ab = 2.0 * np.sqrt(a * b)
    origin_idx = {o: i for i, o in enumerate(origins)}
    next_id = 0
    free_slots: list[int] = list(range(cap - 1, -1, -1))

    def grow() -> None:
        nonlocal act, link, lane, x, v, v0, tau, halted, stops, t_in, t_link, free, vid, orig, cap
        arrays = [act, link, lane, x, v, v0, tau, halted, stops, t_in, t_link, free, vid, orig]
        grown = [np.concatenate([arr, np.zeros_like(arr)]) for arr in arrays]
        act, link, lane, x, v, v0, tau, halted, stops, t_in, t_link, free, vid, orig = grown
        free_slots.extend(range(2 * cap - 1, cap - 1, -1))
        cap *= 2

    n_steps = int(np.ceil(t_end / dt))
    for step in range(n_steps):
        t = step * dt
        idx = np.flatnonzero(act)
        # ---- leaders: sort by (lane key, position) ---------------------------------
        key = link[idx] * max_lanes + lane[idx]
        order = np.lexsort((x[idx], key))
        si = idx[order]
        ks = key[order]
        xs = x[si]
        vs = v[si]
        n = len(si)
        gap = np.full(n, np.inf)
        vl = np.zeros(n)
        if n > 1:
            same = ks[1:] == ks[:-1]
            gap[:-1] = np.where(same, xs[1:] - xs[:-1] - vlen, np.inf)
            vl[:-1] = np.where(same, vs[1:], 0.0)
        # lane tails (smallest position per lane) for entries and lane choice
        tail = np.full(L * max_lanes, np.inf)
        tail_v = np.zeros(L * max_lanes)
        if n:
            first = np.ones(n, bool)
            first[1:] = ks[1:] != ks[:-1]
            tail[ks[first]] = xs[first]
            tail_v[ks[first]] = vs[first]
        # ---- stop lines: front vehicles on an approach facing red / amber ----------------
        front = np.isinf(gap)
        if front.any():
            fl = link[si[front]]
            green, amber = timing.state(t, junction[fl], phase[fl])
            dist = length[fl] - xs[front]
            can_stop = dist > vs[front] ** 2 / (2 * MAX_DECEL)
            stop = approach[fl] & (~green) & (~amber | can_stop)
            g = gap[front]
            g[stop] = dist[stop] + s0  # the stop line itself is the standstill point
            gap[front] = g
        # ---- IDM -----------------------------------------------------------------------
        if n:
            dv = vs - vl
            s_star = s0 + np.maximum(0.0, vs * tau[si] + vs * dv / sqrt_ab)
            with np.errstate(divide="ignore", invalid="ignore"):
                inter = np.where(np.isinf(gap), 0.0, (s_star / np.maximum(gap, 0.1)) ** 2)
            acc = a * (1.0 - (vs / v0[si]) ** 4 - inter)
            vn = np.maximum(vs + acc * dt, 0.0)
            x[si] = xs + 0.5 * (vs + vn) * dt
            v[si] = vn
            h = halted[si]
            stops[si] += (vn < HALT_V) & ~h
            halted[si] = np.where(vn < HALT_V, True, np.where(vn > 3.0, False, h))
            slow = si[(vn < QUEUE_V) & approach[link[si]]]
            rec.queue_many(t, np.bincount(link[slow], minlength=L).astype(float))
            # ---- stop-line crossings ---------------------------------------------------
            crossed = si[x[si] >= length[link[si]]]
            for i in crossed.tolist():
                li = int(link[i])
                rec.crossing(li, t, 3.6 * length[li] / max(t + dt - t_link[i], 1e-9))
                if not approach[li]:
                    rec.finish(
                        int(vid[i]),
                        origins[orig[i]],
                        topo.exit_node[li],
                        float(t_in[i]),
                        t + dt,
                        float(free[i]),
                        int(stops[i]),
                    )
                    act[i] = False
                    free_slots.append(i)
                    continue
                u = turn_rng.random()
                c = cum[int(topo.main[li])]
                nl = int(next_link[li, 0 if u < c[0] else (1 if u < c[1] else 2)])
                x[i] -= length[li]
                keys = nl * max_lanes + np.arange(lanes[nl])
                lane[i] = int(np.argmax(tail[keys]))
                link[i] = nl
                t_link[i] = t + dt
                free[i] += length[nl] / link_speed[nl]
        # ---- arrivals ----------------------------------------------------------------
        t_next = t + dt
        for o in origins:
            q = arrivals[o]
            while q and q[0] < t_next:
                pending[o].append(q.popleft())
            if not pending[o]:
                continue
            el = topo.entry_link[o]
            keys = el * max_lanes + np.arange(lanes[el])
            best = int(np.argmax(tail[keys]))
            room = tail[keys[best]] - vlen
            v_des = max(drv_rng.normal(truth.speed.mean_kmh, truth.speed.sd_kmh), 5.0) / 3.6
            v_in = v_des if np.isinf(room) else min(v_des, tail_v[keys[best]])
            if room < s0 + v_in * 1.0:
                continue
            pending[o].popleft()
            if not free_slots:
                grow()
            i = free_slots.pop()
            next_id += 1
            act[i] = True
            link[i], lane[i], x[i], v[i] = el, best, 0.0, v_in
            v0[i] = v_des
            tau[i] = max(drv_rng.normal(d.time_headway_s, d.time_headway_sd_s), 0.5)
            halted[i] = False
            stops[i] = 0
            t_in[i] = t_link[i] = t_next
            free[i] = length[el] / link_speed[el]
            vid[i] = next_id
            orig[i] = origin_idx[o]
            tail[keys[best]] = 0.0
    return rec.observation({})
