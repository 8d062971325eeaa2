"""The artificial world on any SUMO network: mesoscopic SimPy with link storage.

Vehicles are SimPy processes that follow their route edge by edge. On entering an edge a
vehicle takes the least occupied lane that serves its next movement, drives at its
desired speed (speed limit x its speed factor) to the stop line and joins that lane's
queue. One server process per lane discharges the head of its queue, one vehicle per
saturation headway, when:

* the movement's signal shows green (``G``; ``g`` and unsignalised minor movements also
  need a gap: no vehicle of a movement with right of way passed in the last
  ``critical_gap_s``); amber and all-red come from the program, and every green starts
  with ``startup_lost_s``;
* **the lane it will take on the next edge has room**: a lane stores length / jam spacing
  vehicles (at least one). This one rule makes spillback and blocking emerge, across
  junctions too, and a vehicle waiting to turn blocks the lane it shares with others.

How vehicles use lanes can be made SUMO-like (each off by default; ingolstadt7 uses
them): ``keep_right_veh`` keeps a vehicle in the rightmost lane it may use until another
is shorter by that many; ``lane_connections`` lets it enter the next edge only on lanes
its own lane connects to, and one that lands in a lane that does not lead on changes at
the stop line, blocking its lane until the one it needs has room; with
``minor_yields_to_queue`` a minor street also waits while a major stream it merges
with queues.

Gridlock is resolved as SUMO resolves it: a vehicle blocked for ``teleport_s`` at the head
of its queue jumps to the next edge anyway, and the jump is counted (``teleports``).

Random values (departure times, speed factors) are drawn in batches from named child
streams of the replication's seed: never one call per vehicle.
"""

from __future__ import annotations

import heapq
import math
import time
from collections import deque
from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from parallel.core.seeds import children
from parallel.traffic.artificial.lanes import LaneTables
from parallel.traffic.artificial.lights import DETECTOR_GAP_S, Lights
from parallel.traffic.artificial.params import Horizon, MesoParams
from parallel.traffic.artificial.tally import Tally
from parallel.traffic.demand import RouteDemand
from parallel.traffic.network import RoadNet
from parallel.traffic.observation import Observation
from parallel.traffic.timing import TimingPlan

#: a vehicle that waited longer than this at a stop line has stopped
STOP_WAIT_S = 2.0


class _Wake(simpy.Event):
    """An event whose trigger takes effect later, as a :class:`simpy.Timeout`'s does: a
    queued vehicle's, which its lane's server fires when it lets the vehicle go, timed for
    the end of the vehicle's drive on the next edge."""

    def trigger_in(self, delay: float, value: Any) -> None:
        if self._value is not simpy.events.PENDING:
            raise RuntimeError(f"{self} has already been triggered")
        self._ok = True
        self._value = value
        self.env.schedule(self, delay=delay)


#: a queued vehicle: its wake event, its movement, the lanes it may take next, when it
#: joined the queue and when it entered the edge, and its drive time and running loss on
#: the next edge, and the movement it will make at the next edge's end (-1: none)
_Queued = tuple[_Wake, int, list[int], float, float, float, float, int]


class _Meso(Lights):
    """One replication's state. Built fresh for every run; nothing is global.

    Storage, queues and discharge are per lane: a lane holds length / jam spacing
    vehicles, keeps one FIFO queue at its stop line and discharges one vehicle per
    saturation headway. A vehicle picks, on entering an edge, the least occupied lane that
    its route may use there (:mod:`parallel.traffic.artificial.lanes`), so a lane shared by
    two movements is blocked by either.
    """

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
        self._lanes(net, params)
        nm = len(net.movements)
        self.last_pass = [-1e9] * nm
        self.inside = [0] * nm  # permissive turners waiting inside the junction
        # the gap each movement needs: a permissive turn at a light, or a minor street's
        # movement at a junction without one (HCM's gaps are longer there: no signal ever
        # stops the stream it crosses)
        self.gap = [
            params.critical_gap_s if mv.tls is not None else params.minor_gap_s
            for mv in net.movements
        ]
        # per movement, looked up for every vehicle at every stop line: whether it has
        # streams to yield to, and whether it is a minor one where no light rules
        self.has_foes = [bool(mv.yields_to) for mv in net.movements]
        self.minor = [mv.state not in "MO" for mv in net.movements]
        # per minor movement without a light (``minor_yields_to_queue``): the streams it
        # yields to that merge with it into the same next edge, whose queued vehicles it
        # also waits for (SUMO's waiting major vehicle keeps its claim on the shared
        # target lane, but a crossing one does not hold the junction); empty when off.
        # ``waiting``: vehicles queued per movement
        self.strict = [
            [o for o in mv.yields_to if net.movements[o].to_edge == mv.to_edge]
            if params.minor_yields_to_queue and mv.tls is None and self.minor[mv.index]
            else []
            for mv in net.movements
        ]
        self.waiting = [0] * nm
        # per movement with right of way over another: when the vehicles driving towards
        # its stop line will get there (a heap; :meth:`_coming`)
        self.approach: list[list[float]] = [[] for _ in range(nm)]
        self.watched = [False] * nm
        if params.gap_ahead_s > 0:
            for mv in net.movements:
                for o in mv.yields_to:
                    self.watched[o] = True
        self.teleports = 0
        self.s_dep, self.s_speed = children(seed, 2)
        self.tally = Tally(self.env, net, demand.routes, horizon.duration_s, horizon.interval_s)
        self._start_lights(plan)
        for lane in range(len(self.lane_edge)):
            self.env.process(self._server(lane))

    def _lanes(self, net: RoadNet, params: MesoParams) -> None:
        """Global lane ids and their storage; per lane its queue and server state."""
        t = self.tables = LaneTables.of(net, params.jam_spacing_m, params.junction_storage)
        self.lane_edge, self.lane_cap, self.lane_id = t.lane_edge, t.lane_cap, t.lane_id
        self.edge_lanes, self.mov_lanes = t.edge_lanes, t.mov_lanes
        # per movement: upstream lane (SUMO index) -> the lanes it lands on downstream
        self.landing = t.landing(net) if params.lane_connections else None
        index = {g: k for (_, k), g in self.lane_id.items()}
        self.sumo_index = [index[g] for g in range(len(self.lane_edge))]
        n = len(self.lane_edge)
        self.occ = [0] * n
        self.room: list[simpy.Event | None] = [None] * n
        # per lane: the queued vehicles (:data:`_Queued`)
        self.queues: list[deque[_Queued]] = [deque() for _ in range(n)]
        self.idle: list[simpy.Event | None] = [None] * n
        self.busy = [0.0] * n  # a lane discharges its next vehicle no earlier than this
        self.red = [True] * n  # the lane's signal was red when its server last looked
        self.seen = [-1e9] * n  # when a vehicle last reached or left the lane's stop line
        # a queue that moved and then halts (red, no room, no gap) halts every vehicle in
        # it once more: SUMO counts each halt in a trip's waitingCount, and a vehicle that
        # waits through several cycles stops several times
        self.halts = [0] * n
        self.moving = [False] * n
        self.length = [e.length_m for e in net.edges]
        self.speed = [e.speed_mps for e in net.edges]
        # the actuated lights' detectors: DETECTOR_GAP_S at the speed limit before the
        # stop line, on the lane's own edge (an actuated light moves its own nearer:
        # Lights._detectors)
        self.detector_m = [
            min(DETECTOR_GAP_S * self.speed[e], self.length[e]) for e in self.lane_edge
        ]

    def _pick(self, options: list[int]) -> int:
        """The least occupied lane (the rightmost among equals)."""
        occ = self.occ
        best = options[0]
        for lane in options[1:]:
            if occ[lane] < occ[best]:
                best = lane
        k = self.p.keep_right_veh
        if k > 0:  # keep right: the first lane that is not k vehicles longer than best
            lim = occ[best] + k
            for lane in options:
                if occ[lane] <= lim:
                    return lane
        return best

    def _target(self, lane: int, m: int, opts: list[int]) -> int:
        """The lane a vehicle leaving ``lane`` by movement ``m`` enters on the next edge,
        one of ``opts`` (those its route may use there). With ``lane_connections``, only a
        lane that its own lane connects to: one of ``opts`` if it can, otherwise another,
        and it then changes lanes at the next stop line (:meth:`_change`)."""
        if self.landing is None:
            return self._pick(opts)
        land = self.landing[m].get(self.sumo_index[lane])
        if not land:  # the network does not say: any lane
            return self._pick(opts)
        both = [x for x in land if x in opts]
        return self._pick(both or land)

    def _may_pass(self, m: int) -> bool:
        """Gap acceptance: no vehicle with right of way passed in the last critical gap
        (and, with ``gap_ahead_s``, none will reach its stop line within that time).

        A stream with right of way that flows passes a vehicle every saturation headway,
        shorter than any critical gap, so it holds the yielding movement back; one that is
        itself blocked by a full lane downstream does not, as on the road (and a rule
        that waited for its queue to clear would deadlock the two).
        """
        now, gap, last = self.env.now, self.gap[m], self.last_pass
        # a loop, not all() over a generator: this runs for every yielding vehicle
        for o in self.net.movements[m].yields_to:  # noqa: SIM110
            if now - last[o] < gap:
                return False
        if self.strict[m]:
            w = self.waiting
            for o in self.strict[m]:  # noqa: SIM110
                if w[o] > 0:
                    return False
        ahead = self.p.gap_ahead_s
        return ahead <= 0 or self._ahead(m) >= ahead

    def _coming(self, m: int, t: float) -> None:
        """A vehicle will reach movement ``m``'s stop line at ``t``."""
        if self.watched[m]:
            heapq.heappush(self.approach[m], t)

    def _ahead(self, m: int) -> float:
        """Time until the next vehicle with right of way over ``m`` reaches its stop line
        (a stream whose light is red does not count)."""
        now, best = self.env.now, math.inf
        for o in self.net.movements[m].yields_to:
            h = self.approach[o]
            while h and h[0] <= now:
                heapq.heappop(h)
            if h and h[0] - now < best and self._colour(o) != "r":
                best = h[0] - now
        return best

    def _gap_wait(self, m: int) -> float:
        """How long a yielding vehicle waits before it looks again: until the gap behind
        the last vehicle with right of way would be long enough (and, with
        ``gap_ahead_s``, until the vehicle about to arrive is there), or until its light
        can next change, whichever is first. (Nothing else can turn its answer to yes,
        so it need not poll.)"""
        now, mv = self.env.now, self.net.movements[m]
        last = self.last_pass
        wait = max(last[o] for o in mv.yields_to) + self.gap[m] - now
        ahead = self._ahead(m) if self.p.gap_ahead_s > 0 else math.inf
        if ahead < self.p.gap_ahead_s:  # until that vehicle is there (it then passes)
            wait = max(wait, ahead)
        if mv.tls is not None and mv.tls in self.next_change:
            wait = min(wait, self.next_change[mv.tls] - now)
        if self.strict[m]:
            # a queue with right of way can empty at any moment: look again each half
            # second (its last vehicle passing sets the gap wait above anyway)
            wait = max(wait, 0.5)
        return max(wait, 1e-3)  # a wait that rounds to nothing would not advance the clock

    # -- storage -----------------------------------------------------------------------
    def _room(self, lane: int) -> simpy.Event:
        ev = self.room[lane]
        if ev is None:
            ev = self.room[lane] = self.env.event()
        return ev

    def _free(self, lane: int) -> None:
        self.occ[lane] -= 1
        ev = self.room[lane]
        if ev is not None:
            self.room[lane] = None
            ev.succeed()

    # -- processes ------------------------------------------------------------------------
    def _server(self, lane: int) -> Generator:
        """Discharge one lane's queue: signal, right of way, room downstream, headway."""
        env, p, net = self.env, self.p, self.net
        q = self.queues[lane]
        blocked_since = -1.0
        while True:
            if not q:
                self.moving[lane] = False  # an empty lane has nobody left to halt
                self.idle[lane] = ev = env.event()
                yield ev
                continue
            entry = q[0]
            m, opts = entry[1], entry[2]
            if m < 0:  # a vehicle in a lane that does not lead on, to change lanes
                yield from self._change(lane, opts)
                continue
            mv = net.movements[m]
            c = self._colour(m)
            if c == "r":
                self.red[lane] = True
                self._halt(lane)
                yield self.changed[mv.tls]  # type: ignore[index]
                continue
            if self.red[lane] and c != "-":
                self.red[lane] = False
                yield env.timeout(p.startup_lost_s)
                continue
            if env.now < self.busy[lane] - 1e-9:  # a vehicle passed without queueing
                yield env.timeout(self.busy[lane] - env.now)
                continue
            yields = mv.yields_to and (c == "g" or (c == "-" and mv.state not in "MO"))
            if yields and not self._may_pass(m):
                if c == "g" and self.inside[m] < p.inside_slots:
                    # a permissive turner pulls into the junction to wait for its gap and
                    # frees the lane behind it; it clears at the end of the green at latest
                    q.popleft()
                    self.waiting[m] -= 1
                    self._free(lane)
                    self.inside[m] += 1
                    env.process(self._inside(entry, lane))
                    yield env.timeout(p.saturation_headway_s)
                    continue
                self._halt(lane)
                yield env.timeout(self._gap_wait(m))
                continue
            target = self._target(lane, m, opts)
            if self.occ[target] >= self.lane_cap[target]:
                self._halt(lane)
                if blocked_since < 0:
                    blocked_since = env.now
                left = p.teleport_s - (env.now - blocked_since)
                if left > 1e-6:  # a smaller step would not advance the clock
                    yield env.any_of([self._room(target), env.timeout(left)])
                    continue
                self.teleports += 1
            blocked_since = -1.0
            q.popleft()
            self.waiting[m] -= 1
            self.occ[target] += 1
            self._free(lane)
            self.last_pass[m] = env.now
            hw = self._headway(bool(yields))
            self.busy[lane] = env.now + hw
            self.seen[lane] = env.now
            self.moving[lane] = True
            self._release(entry, lane, target)
            yield env.timeout(hw)

    def _change(self, lane: int, opts: list[int]) -> Generator:
        """The head of ``lane``'s queue changes into the least occupied of ``opts``: it
        holds its own lane, and everyone behind it, until one has room. It may take one
        vehicle over a lane's storage, so that two vehicles that each wait for the
        other's lane swap, as SUMO's do, instead of locking each other in."""
        env, occ, cap = self.env, self.occ, self.lane_cap
        best = -1
        for x in opts:
            if occ[x] <= cap[x] and (best < 0 or occ[x] < occ[best]):
                best = x
        if best < 0:
            self._halt(lane)
            yield env.any_of([self._room(x) for x in opts])
            return
        entry = self.queues[lane].popleft()
        occ[best] += 1
        self._free(lane)
        entry[0].succeed((best, env.now, self.halts[lane]))
        yield env.timeout(self.p.lane_change_s)

    def _headway(self, yields: bool) -> float:
        """Time to the next vehicle off this stop line. One that had to yield went when
        it judged its gap; the driver behind has to judge the gap again, which takes
        HCM's follow-up headway (3.3-3.5 s on a minor street), not the green's
        saturation headway. SUMO's yielding vehicles also approach slowly and look."""
        p = self.p
        return max(p.saturation_headway_s, p.follow_up_s) if yields else p.saturation_headway_s

    def _halt(self, lane: int) -> None:
        if self.moving[lane]:
            self.moving[lane] = False
            self.halts[lane] += 1

    def _pass_now(self, lane: int, m: int, opts: list[int]) -> int:
        """A vehicle reaching an empty stop line whose server is idle passes at once if the
        server would let it: green (or right of way, or a gap), and room downstream.
        Returns the lane it enters, or -1 (it then queues as usual). This is the server's
        rule without its events, for the many vehicles that never wait."""
        c = self._colour(m)
        if c == "r":
            return -1
        yields = self.has_foes[m] and (c == "g" or (c == "-" and self.minor[m]))
        if yields and not self._may_pass(m):
            return -1
        target = self._target(lane, m, opts)
        if self.occ[target] >= self.lane_cap[target]:
            return -1
        now = self.env.now
        self.red[lane] = False
        self.occ[target] += 1
        self._free(lane)
        self.last_pass[m] = now
        self.busy[lane] = now + self._headway(yields)
        return target

    def _release(self, entry: _Queued, lane: int, target: int) -> None:
        """Let a queued vehicle go now into ``target``. Its process next wakes where it
        would next act anyway, at the end of its drive on the next edge (after the stop
        penalty if it stopped here): one event per queued vehicle instead of two. What it
        leaves behind is tallied now (a wake after the horizon would lose it); the vehicle
        gets when it left and the lane's halt count then, for its own bookkeeping."""
        ev, _, _, t_q, t_link, drive, extra, nxt = entry
        now = self.env.now
        e = self.lane_edge[lane]
        if now - t_q > STOP_WAIT_S:
            self.tally.waited(e, t_q, now)
            pen = self.p.stop_penalty_s
        else:
            pen = 0.0
        self.tally.crossed(e, t_link, now)
        if nxt >= 0:
            self._coming(nxt, now + pen + drive + extra)
        # summed in the order the vehicle's own drive sums it, to the last bit
        ev.trigger_in(pen + drive + extra, (target, now, self.halts[lane]))

    def _inside(self, entry: _Queued, lane: int) -> Generator:
        """A permissive turner waiting inside the junction for a gap (or the amber)."""
        env = self.env
        m, opts = entry[1], entry[2]
        while True:
            c = self._colour(m)
            if c not in "Gg" or self._may_pass(m):
                break
            yield env.timeout(self._gap_wait(m))
        target = self._target(lane, m, opts)
        while self.occ[target] >= self.lane_cap[target]:
            yield self._room(target)
            target = self._target(lane, m, opts)
        self.inside[m] -= 1
        self.occ[target] += 1
        self.last_pass[m] = env.now
        self._release(entry, lane, target)

    def _enqueue(
        self,
        lane: int,
        m: int,
        opts: list[int],
        t_q: float,
        t_link: float,
        drive: float,
        extra: float,
        nxt: int = -1,
    ) -> _Wake:
        """Queue a vehicle at ``lane``'s stop line (``m`` -1: a lane change, see
        :meth:`_change`) and wake the lane's server if it is idle. Returns the event the
        server triggers when the vehicle goes."""
        ev = _Wake(self.env)
        self.queues[lane].append((ev, m, opts, t_q, t_link, drive, extra, nxt))
        idle = self.idle[lane]
        if idle is not None:
            self.idle[lane] = None
            idle.succeed()
        return ev

    def _vehicle(self, vid: int, r: int, factor: float) -> Generator[simpy.Event, Any, None]:
        env = self.env
        timeout = env.timeout  # bound once: SimPy builds the bound method on every access
        occ, cap, queues, idle_ev = self.occ, self.lane_cap, self.queues, self.idle
        length, speed, crossed = self.length, self.speed, self.tally.crossed
        seen, busy, pass_now, halts = self.seen, self.busy, self._pass_now, self.halts
        route = self.demand.routes[r]
        movs = self.demand_movements[r]
        lanes = self.route_lanes[r]
        last = len(route) - 1
        changes = self.landing is not None  # only then can a lane not lead on
        lane = self._pick(lanes[0])
        while occ[lane] >= cap[lane]:  # SUMO delays the insertion, so do we
            yield self._room(lane)
            lane = self._pick(lanes[0])
        occ[lane] += 1
        t_in = env.now
        stops = 0
        extra = self.route_losses[r]
        t_link = env.now
        first = length[route[0]] / (speed[route[0]] * factor) + extra[0]
        if last > 0:
            self._coming(movs[0], env.now + first)
        yield timeout(first)
        for k, e in enumerate(route):
            # here: at the end of edge e, which the vehicle entered at t_link
            if k == last:
                self._free(lane)
                crossed(e, t_link, env.now)
                self.tally.finish(vid, r, t_in, stops)
                return
            m, opts = movs[k], lanes[k + 1]
            t_q = env.now
            if changes and lane not in lanes[k]:  # landed in a lane that does not lead on
                ev = self._enqueue(lane, -1, lanes[k], t_q, t_link, 0.0, 0.0)
                lane, _, _ = yield ev  # now in a lane that does (:meth:`_change`)
            nxt = route[k + 1]
            drive = length[nxt] / (speed[nxt] * factor)
            seen[lane] = t_q
            if not queues[lane] and idle_ev[lane] is not None and t_q >= busy[lane]:
                target = pass_now(lane, m, opts)
                if target >= 0:  # nothing to wait for: no events for the lane's server
                    crossed(e, t_link, t_q)
                    lane, t_link = target, t_q
                    if k + 1 < last:
                        self._coming(movs[k + 1], t_q + drive + extra[k + 1])
                    yield timeout(drive + extra[k + 1])
                    continue
            then = movs[k + 1] if k + 1 < last else -1
            ev = self._enqueue(lane, m, opts, t_q, t_link, drive, extra[k + 1], then)
            self.waiting[m] += 1
            # joining a queue is a stop (its tail stands until the start wave reaches it);
            # each later halt of the queue is another
            h0 = halts[lane]
            # the server wakes this process at the end of its drive on the next edge
            # (:meth:`_release`), and says when it left and how often its queue halted
            lane, t_left, h1 = yield ev
            if t_left - t_q > STOP_WAIT_S:
                stops += 1 + h1 - h0
                t_link = t_left + self.p.stop_penalty_s  # the next edge's speed is from after it
            else:
                t_link = t_left

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

    def run(self) -> Observation:
        net = self.net
        self.demand_movements = [_movements(net, rt) for rt in self.demand.routes]
        self.route_losses = [self._losses(ms) for ms in self.demand_movements]
        self.route_lanes = [
            self.tables.route_lanes(net, rt, ms, self.p.lane_change_m)
            for rt, ms in zip(self.demand.routes, self.demand_movements)
        ]
        t0 = time.perf_counter()
        self.env.process(self._source())
        self.env.run(until=self.h.duration_s)
        for lane, q in enumerate(self.queues):  # still waiting at the end: count it too
            for _, _, _, t_q, *_ in q:
                self.tally.waited(self.lane_edge[lane], t_q, self.h.duration_s)
        wall = time.perf_counter() - t0
        return self.tally.observation(wall, self.teleports)

    def _losses(self, movs: list[int]) -> list[float]:
        """Running losses per edge of a route, beyond driving at the desired speed: starting
        from standstill on the first edge, and on each later edge the slow-down of the turn
        or of the yield point that led into it (SUMO's vehicles brake for both)."""
        p, net = self.p, self.net
        out = [p.depart_loss_s]
        for m in movs:
            mv = net.movements[m]
            loss = p.turn_loss_s if mv.direction in "lLrRt" else 0.0
            if mv.tls is None and mv.state not in "MO":
                loss += p.minor_loss_s
            out.append(loss)
        return out


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
        net: the network (from :func:`parallel.traffic.network.read_net`).
        plan: the signal plan in force.
        demand: route flows (estimated from counts and probes, never the trip file).
        params: behaviour parameters.
        horizon: the observed window.
        seed: this replication's seed; one child stream per random activity.
    """
    obs = _Meso(net, plan, demand, params, horizon, seed).run()
    obs.meta["plan"] = plan.label
    return obs
