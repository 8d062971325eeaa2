"""The artificial world's traffic lights: fixed-time programs, SUMO's gap actuation and
max-pressure, one SimPy process per light, and the colour each movement sees.

:class:`Lights` is the base of a replication's state (``meso._Meso``). It owns the
lights; it reads the lanes (their queues, when a vehicle last reached or left each stop
line, the detectors' reach) through the attributes declared below, which the world sets
before it calls :meth:`Lights._start_lights`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Iterable
from typing import Any

import numpy as np
import simpy

from parallel.traffic.artificial.params import Horizon, MesoParams
from parallel.traffic.control import MaxPressure, detector_lanes
from parallel.traffic.network import RoadNet
from parallel.traffic.timing import (
    SUMO_MAX_GAP_S,
    TimingPlan,
    actuated_here,
    green_bounds,
    phases,
)

#: SUMO's actuated lights detect vehicles this many seconds of travel at the speed limit
#: before the stop line (its ``detector-gap`` default)
DETECTOR_GAP_S = 2.0
#: SUMO's ``passing-time`` default: how long a car takes to pass a detector in a queue
SUMO_PASSING_TIME_S = 1.9
#: the car length with gap that SUMO places its actuated detectors by, m
SUMO_CAR_WITH_GAP_M = 7.5


class Lights:
    """The lights of one replication, and the hooks a world provides for them."""

    env: simpy.Environment
    net: RoadNet
    p: MesoParams
    h: Horizon
    #: per lane: its queue at the stop line (only its length is read here)
    queues: list[deque[Any]]
    #: per lane: when a vehicle last reached or left its stop line
    seen: list[float]
    #: per lane: its edge; per edge: its speed limit (m/s) and length (m)
    lane_edge: list[int]
    speed: list[float]
    length: list[float]
    #: per lane: how far before the stop line an actuated light detects (m)
    detector_m: list[float]
    #: (edge index, SUMO lane index) -> the world's lane index
    lane_id: dict[tuple[int, int], int]

    def _start_lights(self, plan: TimingPlan) -> None:
        """The lights' state, and one controller process per light that ``plan`` times."""
        net = self.net
        nm = len(net.movements)
        self.light: dict[str, str] = {}
        self.since: dict[str, float] = {}  # when each light last changed
        self.next_change: dict[str, float] = {}  # when each light's controller next acts
        self.colours: list[str | None] = [None] * nm  # per movement, under the light now
        self.tls_movements: dict[str, list[int]] = {}
        for mv in net.movements:
            if mv.tls is not None:
                self.tls_movements.setdefault(mv.tls, []).append(mv.index)
        self.changed: dict[str, simpy.Event] = {}
        for tls, prog in net.programs.items():
            if tls not in plan.programs:
                continue
            timing = plan.programs[tls]
            self.changed[tls] = self.env.event()
            if plan.policy == "max_pressure":
                self.env.process(self._max_pressure(tls, plan.settings))
            elif actuated_here(plan, prog):
                ph = phases(prog, timing)
                bounds = [green_bounds(plan, p) for p in ph]
                gap = plan.settings.get("max_gap_s", SUMO_MAX_GAP_S)
                lanes = self._detectors(tls, bounds)
                self.env.process(self._actuated(tls, ph, bounds, gap, lanes))
            else:
                self.env.process(self._controller(tls, phases(prog, timing), timing.offset_s))

    def _controller(self, tls: str, ph: list[Any], offset: float) -> Generator:
        """A fixed-time program: its phases in turn, in step with the network clock."""
        env = self.env
        durations = [p.duration_s for p in ph]
        cycle = sum(durations)
        # SUMO: the program is at position (t - offset) mod cycle on the network clock
        pos = (self.h.begin_s - offset) % cycle
        k = 0
        while pos >= durations[k]:
            pos -= durations[k]
            k = (k + 1) % len(ph)
        remaining = durations[k] - pos
        while True:
            self._show(tls, ph[k].state)
            self.next_change[tls] = env.now + remaining
            yield env.timeout(remaining)
            k = (k + 1) % len(ph)
            remaining = durations[k]
            while remaining <= 0:
                k = (k + 1) % len(ph)
                remaining = durations[k]

    def _show(self, tls: str, state: str) -> None:
        """Switch a light and wake the servers waiting for it."""
        if self.light.get(tls) == state:
            return
        self.light[tls] = state
        self.since[tls] = self.env.now
        for m in self.tls_movements.get(tls, ()):
            self.colours[m] = None
        ev, self.changed[tls] = self.changed[tls], self.env.event()
        if ev.callbacks:  # someone waits for this light: wake them (else spare the event)
            ev.succeed()

    def _detectors(self, tls: str, bounds: list[tuple[float, float]]) -> dict[int, list[int]]:
        """The world's lanes whose detectors extend each green of ``tls`` (SUMO's choice,
        :func:`~parallel.traffic.control.detector_lanes`), and where each detector lies:
        ``DETECTOR_GAP_S`` of travel before the stop line, but near enough that the
        shortest green lets the vehicles between it and the line pass (SUMO: the shortest
        green over its passing time, plus half a car, in cars of 7.5 m)."""
        chosen = detector_lanes(self.net, tls)
        shortest: dict[int, float] = {}
        for k, keys in chosen.items():
            for x in keys:
                if x in self.lane_id and bounds[k][0] < bounds[k][1]:  # an actuated green
                    lane = self.lane_id[x]
                    shortest[lane] = min(shortest.get(lane, np.inf), bounds[k][0])
        for lane, lo in shortest.items():
            e = self.lane_edge[lane]
            reach = (lo / SUMO_PASSING_TIME_S + 0.5) * SUMO_CAR_WITH_GAP_M
            self.detector_m[lane] = min(DETECTOR_GAP_S * self.speed[e], reach, self.length[e])
        return {
            k: [self.lane_id[x] for x in keys if x in self.lane_id] for k, keys in chosen.items()
        }

    def _actuated(
        self,
        tls: str,
        ph: list[Any],
        bounds: list[tuple[float, float]],
        gap: float,
        lanes: dict[int, list[int]],
    ) -> Generator:
        """SUMO's gap-based actuation on this world's lanes: phases in program order; a
        green holds its shortest duration (``bounds[k]``), then goes on while a vehicle
        was over one of its detectors (``lanes[k]``) within ``gap``
        (:meth:`_last_detection`), up to its longest."""
        env = self.env
        k = 0
        while True:
            p = ph[k]
            lo, hi = bounds[k]
            if p.duration_s > 0 or p.is_green:
                self._show(tls, p.state)
                if not p.is_green:
                    self.next_change[tls] = env.now + p.duration_s
                    yield env.timeout(p.duration_s)
                else:
                    start = env.now
                    self.next_change[tls] = env.now + lo
                    yield env.timeout(lo)
                    while env.now - start < hi - 1e-6:
                        last = self._last_detection(lanes.get(k, ()))
                        if env.now - last >= gap - 1e-6:  # a smaller step would not advance
                            break
                        step = min(gap - (env.now - last), hi - (env.now - start))
                        self.next_change[tls] = env.now + step
                        yield env.timeout(step)
            k = (k + 1) % len(ph)

    def _last_detection(self, lanes: Iterable[int]) -> float:
        """When a vehicle was last over the detectors of ``lanes``: now, while a lane's
        queue reaches back to its detector (SUMO's loop reports no gap while a vehicle
        stands on it, so a standing queue holds the green however slowly it discharges);
        else when a vehicle last reached or left one of the stop lines."""
        now, last = self.env.now, -1e9
        for x in lanes:
            if len(self.queues[x]) * self.p.jam_spacing_m >= self.detector_m[x]:
                return now
            last = max(last, self.seen[x])
        return last

    def _max_pressure(self, tls: str, st: dict[str, float]) -> Generator:
        """Max-pressure on this world's queues: the shared rule of
        :class:`parallel.traffic.control.MaxPressure`."""
        lane_id, queues = self.lane_id, self.queues
        ctl = MaxPressure.for_tls(self.net, tls, st, lambda x: lane_id.get(x, -1))

        def halting(lane: Any) -> float:
            return float(len(queues[lane])) if lane >= 0 else 0.0

        state, wait = ctl.start()
        while True:
            self._show(tls, state)
            self.next_change[tls] = self.env.now + wait
            yield self.env.timeout(wait)
            state, wait = ctl.step(halting)

    def _colour(self, m: int) -> str:
        c = self.colours[m]
        if c is None:
            c = self.colours[m] = self._colour_of(m)
        # the queue goes on discharging into the first part of the amber (HCM's extension
        # of effective green): who is already moving off the line cannot stop in time
        if c == "y":
            since = self.since[self.net.movements[m].tls or ""]  # signalised: it has a light
            return "G" if self.env.now - since < self.p.amber_used_s else "r"
        return c

    def _colour_of(self, m: int) -> str:
        """The movement's colour under its light's current state (cached until it changes)."""
        mv = self.net.movements[m]
        if mv.tls is None or mv.tls not in self.light:
            return "-"  # unsignalised (or a light without a program): right of way rules
        state = self.light[mv.tls]
        cs = [state[i] for i in mv.link_indices if i < len(state)]
        for c in "Ggy":
            if c in cs:
                return c
        return "r"
