"""Fixed-time two-phase signals: the timing maths both worlds share, and a SimPy controller."""

from __future__ import annotations

from collections.abc import Generator

import numpy as np
import simpy

from parallel.traffic.scenario import Plan

AMBER_S = 3.0


class Timing:
    """When each phase of each junction is green.

    Phase 0 (main street) is green on ``[0, g0)`` of the cycle, then ``lost`` seconds of
    amber/all-red; phase 1 (side streets) on ``[g0 + lost, g0 + lost + g1)``, then lost
    time again. Junction ``k`` runs ``k * offset`` seconds behind junction 0.
    """

    def __init__(self, plan: Plan, lost_time_s: float) -> None:
        self.cycle = plan.cycle_s
        self.offset = plan.offset_s
        g0, g1 = plan.greens(lost_time_s)
        self.start = np.array([0.0, g0 + lost_time_s])
        self.green = np.array([g0, g1])
        self.lost = lost_time_s

    def phase_time(self, t: float | np.ndarray, junction: int | np.ndarray) -> np.ndarray:
        """Time since the start of the phase-0 green of the current cycle."""
        return np.mod(np.asarray(t) - np.asarray(junction) * self.offset, self.cycle)

    def state(
        self, t: float, junction: np.ndarray, phase: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(green, amber) boolean arrays for each (junction, phase) pair at time ``t``."""
        tau = self.phase_time(t, junction) - self.start[phase]
        tau = np.mod(tau, self.cycle)
        g = self.green[phase]
        green = tau < g
        amber = (~green) & (tau < g + min(AMBER_S, self.lost))
        return green, amber


class Signal:
    """A SimPy signal controller's state at one junction.

    ``green[p]`` says whether phase ``p`` is green; ``wait_green(p)`` is an event that
    fires when phase ``p`` next turns green.
    """

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.green = [False, False]
        self._turned_green = [env.event(), env.event()]

    def wait_green(self, phase: int) -> simpy.Event:
        return self._turned_green[phase]

    def _set(self, phase: int | None) -> None:
        for p in (0, 1):
            now_green = p == phase
            if now_green and not self.green[p]:
                ev = self._turned_green[p]
                self._turned_green[p] = self.env.event()
                self.green[p] = True
                ev.succeed()
            elif not now_green:
                self.green[p] = False


def controller(env: simpy.Environment, sig: Signal, timing: Timing, junction: int) -> Generator:
    """SimPy process: switch ``sig`` through its phases forever."""
    bounds = [
        (0.0, 0),
        (timing.green[0], None),
        (timing.start[1], 1),
        (timing.start[1] + timing.green[1], None),
    ]
    while True:
        tau = float(timing.phase_time(env.now, junction))
        state: int | None = None
        nxt = timing.cycle
        for b, st in bounds:
            if tau + 1e-9 >= b:
                state = st
            else:
                nxt = b
                break
        sig._set(state)
        yield env.timeout(max(nxt - tau, 1e-6))
