"""Control policies for real networks, one definition for both worlds.

A control is a :class:`~parallel.traffic.timing.TimingPlan` with a ``policy`` (named in
scenario files through :data:`POLICIES`) and its parameters:

* ``fixed``: the greens and offsets as timed, per program;
* ``webster``: Webster's cycle and green split from the movement flows, as SUMO's
  ``tlsCycleAdaptation.py`` computes them (then run as a fixed plan);
* ``actuated``: in SUMO its own ``type="actuated"`` programs; in the artificial world the
  same rule on its lanes (a green lasts at least ``min_green_s``, at most
  ``max_green_s``, and ends earlier when no vehicle passed its lanes' detectors for
  ``max_gap_s``; as in SUMO, a detector sits 2 s of travel before the stop line, and a
  queue standing on it leaves no gap);
* ``max_pressure`` (Varaiya): every ``step_s`` after ``min_green_s``, the green phase
  with the largest pressure (halting vehicles on its incoming lanes minus those on their
  outgoing lanes) runs next, through an amber of ``yellow_s``. :class:`MaxPressure` is the
  one decision rule; SUMO's worker drives it through libsumo every step, the artificial
  world from a SimPy process that reads its queues.

:func:`check_control` refuses a control that would deadlock a junction (no green for a
movement that has demand) before it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import numpy as np

from parallel.core.errors import UserInputError
from parallel.core.registry import Registry
from parallel.traffic.network import Movement, Phase, RoadNet
from parallel.traffic.timing import MIN_GREEN_S, ProgramTiming, TimingPlan, incumbent, phases


class ControlError(UserInputError):
    """A control that cannot run: unknown policy or parameter, or a junction it would
    deadlock."""


@dataclass(frozen=True)
class ParamSpec:
    default: float
    lo: float
    hi: float
    doc: str


@dataclass(frozen=True)
class PolicySpec:
    """A policy as scenario files name it."""

    name: str
    summary: str
    params: dict[str, ParamSpec] = field(default_factory=dict)
    adaptive: bool = False
    """Decides the greens while it runs (needs no plan search)."""


POLICIES: Registry[PolicySpec] = Registry("control policy")
POLICIES.add("fixed", PolicySpec("fixed", "fixed time per program: cycle, greens, offset"))
POLICIES.add(
    "webster",
    PolicySpec(
        "webster",
        "Webster's cycle and split from the movement flows (SUMO's tlsCycleAdaptation.py)",
        {
            "lost_time_s": ParamSpec(4.0, 0.0, 10.0, "start-up and clearance lost per phase"),
            "yellow_s": ParamSpec(4.0, 0.0, 10.0, "amber per phase taken off each green"),
            "min_cycle_s": ParamSpec(20.0, 10.0, 300.0, "shortest cycle"),
            "max_cycle_s": ParamSpec(120.0, 20.0, 300.0, "longest cycle"),
            "saturation_headway_s": ParamSpec(2.0, 0.8, 6.0, "for the saturation flow per lane"),
            "min_green_s": ParamSpec(MIN_GREEN_S, 1.0, 60.0, "shortest green"),
        },
    ),
)
POLICIES.add(
    "actuated",
    PolicySpec(
        "actuated",
        "gap-based actuation (SUMO's type=actuated): min/max green, max gap",
        {
            "min_green_s": ParamSpec(5.0, 1.0, 60.0, "a green lasts at least this long"),
            "max_green_s": ParamSpec(50.0, 5.0, 180.0, "and at most this long"),
            "max_gap_s": ParamSpec(3.0, 0.5, 10.0, "a green ends after a gap this long"),
        },
        adaptive=True,
    ),
)
POLICIES.add(
    "max_pressure",
    PolicySpec(
        "max_pressure",
        "max-pressure (Varaiya): the green with the largest queue pressure runs next",
        {
            "min_green_s": ParamSpec(10.0, 1.0, 60.0, "a green lasts at least this long"),
            "step_s": ParamSpec(5.0, 1.0, 60.0, "decision interval after the minimum green"),
            "yellow_s": ParamSpec(3.0, 0.0, 10.0, "amber between two different greens"),
        },
        adaptive=True,
    ),
)


def settings(policy: str, given: dict[str, float] | None = None) -> tuple[tuple[str, float], ...]:
    """A policy's parameters: defaults overridden by ``given``, checked against bounds.

    Raises:
        ControlError: an unknown policy (listing the valid ones), an unknown parameter
            (listing the policy's parameters) or a value out of bounds.
    """
    try:
        spec = POLICIES.get(policy)
    except UserInputError as exc:
        raise ControlError(str(exc)) from None
    out = {k: p.default for k, p in spec.params.items()}
    for k, v in (given or {}).items():
        if k not in spec.params:
            valid = ", ".join(sorted(spec.params)) or "none"
            raise ControlError(
                f"policy {policy!r} has no parameter {k!r}; its parameters are: {valid}"
            )
        p = spec.params[k]
        if not p.lo <= float(v) <= p.hi:
            raise ControlError(
                f"policy {policy!r}: {k}={v} is out of range; use a value in [{p.lo:g}, {p.hi:g}]"
            )
        out[k] = float(v)
    if policy == "actuated" and out["max_green_s"] < out["min_green_s"]:
        raise ControlError(
            f"policy 'actuated': max_green_s={out['max_green_s']:g} is below "
            f"min_green_s={out['min_green_s']:g}; make the maximum at least the minimum"
        )
    return tuple(sorted(out.items()))


def make_control(
    net: RoadNet,
    *,
    policy: str,
    params: dict[str, float] | None = None,
    base: TimingPlan | None = None,
    flows: np.ndarray | None = None,
    label: str | None = None,
) -> TimingPlan:
    """The control a scenario names: ``policy`` with ``params`` on top of ``base`` (default:
    the network's own programs). ``webster`` needs ``flows`` (veh/h per movement, see
    :func:`movement_flows`) and returns the fixed plan it computes."""
    st = settings(policy, params)
    base = base or incumbent(net)
    if policy == "webster":
        if flows is None:
            raise ControlError("policy 'webster' needs movement flows; observe a round first")
        return webster(net, flows, base, dict(st), label or "webster")
    if policy == "fixed":
        return TimingPlan(label or base.label, base.programs)
    return TimingPlan(label or policy.replace("_", "-"), base.programs, policy, st)


# -- flows and Webster -----------------------------------------------------------------
def movement_flows(net: RoadNet, routes: list[tuple[int, ...]], flows: np.ndarray) -> np.ndarray:
    """Veh/h per movement from route flows (veh/h per route)."""
    out = np.zeros(len(net.movements))
    for route, f in zip(routes, np.asarray(flows, float)):
        for a, b in zip(route, route[1:]):
            m = net.movement(a, b)
            if m is not None:
                out[m] += f
    return out


def _critical_ratios(net: RoadNet, tls: str, flows: np.ndarray, sat: float) -> dict[int, float]:
    """Per green phase of ``tls`` with a major ``G``: its critical flow ratio, as SUMO's
    ``tlsCycleAdaptation.py`` computes it. A movement's flow is split evenly over its
    link indices, and a link with a major green in several phases splits its flow
    between them. A phase's lane groups are its links from one incoming edge with a
    major green (or a permissive one the link has in no other phase); the ratio is the
    largest group flow per lane over the saturation flow per lane."""
    prog = net.programs[tls]
    movs = [m for m in net.movements if m.tls == tls and m.link_indices]
    greens_of: dict[int, int] = {}
    for p in prog.phases:
        for i, c in enumerate(p.state):
            if c == "G":
                greens_of[i] = greens_of.get(i, 0) + 1
    link_flow: dict[int, tuple[float, int, int]] = {}  # link -> (flow, in-edge, movement)
    for m in movs:
        for i in m.link_indices:
            link_flow[i] = (float(flows[m.index]) / len(m.link_indices), m.from_edge, m.index)
    out: dict[int, float] = {}
    for k, p in enumerate(prog.phases):
        if "G" not in p.state or any(c in "yY" for c in p.state):
            continue
        groups: dict[int, tuple[float, set[int]]] = {}
        for i, c in enumerate(p.state):
            if i not in link_flow or not (c == "G" or (c == "g" and i not in greens_of)):
                continue
            f, edge, mi = link_flow[i]
            g_f, lanes = groups.get(edge, (0.0, set()))
            groups[edge] = (
                g_f + f / max(greens_of.get(i, 1), 1),
                lanes | set(net.movements[mi].from_lanes),
            )
        crit = max(groups.values(), key=lambda fl: fl[0], default=(0.0, {0}))
        out[k] = crit[0] / max(len(crit[1]), 1) / sat
    return out


def webster(
    net: RoadNet, flows: np.ndarray, base: TimingPlan, st: dict[str, float], label: str
) -> TimingPlan:
    """Webster's retiming of every program (cycle (1.5 L + 5) / (1 - Y), greens in
    proportion to the critical flow ratios), as SUMO's ``tlsCycleAdaptation.py`` does.

    Amber and all-red keep the program's durations (the tool writes its ``--yellow-time``
    instead); a program whose movements carry no flow keeps its timing."""
    sat = 3600.0 / st["saturation_headway_s"]
    out = dict(base.programs)
    for tls, timing in base.programs.items():
        prog = net.programs[tls]
        ratios = _critical_ratios(net, tls, flows, sat)
        y = sum(ratios.values())
        if y <= 0:
            continue
        lost = len(ratios) * st["lost_time_s"]
        cycle = st["max_cycle_s"] if y >= 1 else round((1.5 * lost + 5.0) / (1.0 - y))
        cycle = min(max(cycle, st["min_cycle_s"]), st["max_cycle_s"])
        eff = cycle - lost
        greens = []
        for k, g_old in zip(prog.green_phases, timing.greens):
            if k in ratios:
                g = round(eff * ratios[k] / y - st["yellow_s"] + st["lost_time_s"])
                greens.append(float(max(g, st["min_green_s"])))
            else:  # a green with only permissive links: as the plan has it
                greens.append(g_old)
        out[tls] = ProgramTiming(tuple(greens), timing.offset_s)
    return TimingPlan(label, out)


# -- the max-pressure rule -------------------------------------------------------------
LaneKey = Hashable


@dataclass(frozen=True)
class PhaseLanes:
    """A green phase and the movements it lets go, each as its incoming lanes and the
    lanes of the edge it leads to: (edge index, SUMO lane index) pairs."""

    phase: int
    movements: tuple[tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]], ...]

    @property
    def incoming(self) -> list[tuple[int, int]]:
        """Every incoming lane of the phase's movements, once."""
        return sorted({x for inc, _ in self.movements for x in inc})


def phase_lanes(net: RoadNet, tls: str) -> list[PhaseLanes]:
    """Every green phase of ``tls`` with the movements (as lanes) it lets go."""
    prog = net.programs[tls]
    movs = [m for m in net.movements if m.tls == tls and m.link_indices]
    out = []
    for k in prog.green_phases:
        st = prog.phases[k].state
        go = [m for m in movs if any(i < len(st) and st[i] in "Gg" for i in m.link_indices)]
        out.append(
            PhaseLanes(
                k,
                tuple(
                    (
                        tuple((m.from_edge, ln) for ln in m.from_lanes),
                        tuple((m.to_edge, ln) for ln in net.edges[m.to_edge].lane_indices or (0,)),
                    )
                    for m in go
                ),
            )
        )
    return out


def detector_lanes(net: RoadNet, tls: str) -> dict[int, list[tuple[int, int]]]:
    """Per green phase of ``tls``, the incoming lanes whose detectors extend it, chosen as
    SUMO's actuated lights choose them (``MSActuatedTrafficLightLogic::init``): a lane's
    detector serves a phase only if every link from that lane may go in it. A permissive
    link (``g``) counts only if it is never protected, or is a turnaround, and a protected
    link leaves the same lane in that phase, or if its edge has a single lane. A lane
    shared with a movement that the phase holds at red extends nothing, so a green is not
    held for traffic it does not serve."""
    prog = net.programs[tls]
    movs = [m for m in net.movements if m.tls == tls and m.link_indices]
    lane_links: dict[tuple[int, int], set[int]] = {}
    link_lanes: dict[int, set[tuple[int, int]]] = {}
    turnaround: dict[int, bool] = {}
    one_lane: dict[int, bool] = {}
    for m in movs:
        lanes = {(m.from_edge, ln) for ln in m.from_lanes}
        for i in m.link_indices:
            link_lanes.setdefault(i, set()).update(lanes)
            turnaround[i] = turnaround.get(i, True) and m.direction == "t"
            one_lane[i] = net.edges[m.from_edge].lanes == 1
        for x in lanes:
            lane_links.setdefault(x, set()).update(m.link_indices)
    never_major = {
        i
        for i in link_lanes
        if not any(i < len(p.state) and p.state[i] == "G" for p in prog.phases)
    }

    def may_go(i: int, st: str) -> bool:
        c = st[i] if i < len(st) else "r"
        if c == "G":
            return True
        if c != "g":
            return False
        major_here = any(
            st[j] == "G" and link_lanes.get(j, set()) & link_lanes[i] for j in range(len(st))
        )
        return ((i in never_major or turnaround[i]) and major_here) or one_lane[i]

    out: dict[int, list[tuple[int, int]]] = {}
    for k in prog.green_phases:
        st = prog.phases[k].state
        out[k] = sorted(x for x, links in lane_links.items() if all(may_go(i, st) for i in links))
    return out


def amber(current: str, nxt: str) -> str:
    """The amber state between two signal states: every link that loses its green shows
    ``y``; the others keep their colour."""
    return "".join(
        "y" if c in "Gg" and (j >= len(nxt) or nxt[j] not in "Gg") else c
        for j, c in enumerate(current)
    )


Group = tuple[int, list[tuple[list[LaneKey], list[LaneKey]]]]


class MaxPressure:
    """The max-pressure decision rule for one traffic light, clocked by the caller.

    A phase's pressure is the sum over the movements it lets go of (upstream queue -
    downstream queue) x saturation flow (REFERENCES.md, Varaiya 2013), with a movement's
    queues per lane (halting vehicles on its incoming lanes, and on the lanes of the edge
    it leads to, each divided by the lane count) and its saturation flow proportional to
    its incoming lanes.

    :meth:`start` gives the first state and when to call again; :meth:`step` is called at
    that time with a function giving the halting vehicles of a lane and returns the next
    (state, seconds until the next call). Plain data in, so SUMO's worker process builds
    it from JSON and the artificial world from the network (:meth:`for_tls`).
    """

    def __init__(self, states: list[str], groups: list[Group], st: dict[str, float]) -> None:
        self.states, self.groups = states, groups
        self.min_green, self.step_s, self.yellow = st["min_green_s"], st["step_s"], st["yellow_s"]
        self.current = groups[0][0] if groups else 0
        self.pending: int | None = None

    @classmethod
    def for_tls(
        cls,
        net: RoadNet,
        tls: str,
        st: dict[str, float],
        key: Callable[[tuple[int, int]], LaneKey],
    ) -> MaxPressure:
        """``key`` maps an (edge index, SUMO lane index) pair to the caller's lane key."""
        groups: list[Group] = [
            (g.phase, [([key(x) for x in inc], [key(x) for x in out]) for inc, out in g.movements])
            for g in phase_lanes(net, tls)
        ]
        return cls([p.state for p in net.programs[tls].phases], groups, st)

    def start(self) -> tuple[str, float]:
        return self.states[self.current], self.min_green

    def pressures(self, halting: Callable[[LaneKey], float]) -> list[float]:
        out = []
        for _, movs in self.groups:
            p = 0.0
            for inc, dn in movs:
                up = sum(halting(x) for x in inc) / max(len(inc), 1)
                down = sum(halting(x) for x in dn) / max(len(dn), 1)
                p += (up - down) * len(inc)
            out.append(p)
        return out

    def step(self, halting: Callable[[LaneKey], float]) -> tuple[str, float]:
        ph = self.states
        if self.pending is not None:  # the amber is over: the chosen green starts
            self.current, self.pending = self.pending, None
            return ph[self.current], self.min_green
        press = self.pressures(halting)
        here = next(i for i, g in enumerate(self.groups) if g[0] == self.current)
        best = max(range(len(press)), key=lambda i: (press[i], i == here))
        choice = self.groups[best][0]
        if choice == self.current:
            return ph[self.current], self.step_s
        if self.yellow <= 0:
            self.current = choice
            return ph[choice], self.min_green
        self.pending = choice
        return amber(ph[self.current], ph[choice]), self.yellow


# -- refusing a deadlock ----------------------------------------------------------------
def check_control(net: RoadNet, plan: TimingPlan, flows: np.ndarray | None = None) -> None:
    """Refuse a control that gives some movement with demand no green at all.

    ``flows`` (veh/h per movement) says which movements have demand; without it, every
    movement that the network's own programs ever let go is taken to have some.

    Raises:
        ControlError: naming the traffic light, the movement and the fix.
    """
    settings(plan.policy, plan.settings)
    for tls, timing in plan.programs.items():
        if tls not in net.programs:
            raise ControlError(
                f"plan {plan.label!r}: traffic light {tls!r} is not in {net.file}; "
                f"valid ids: {', '.join(sorted(net.programs)[:10])}"
            )
        prog = net.programs[tls]
        if len(timing.greens) != len(prog.green_phases):
            raise ControlError(
                f"plan {plan.label!r}: traffic light {tls!r} has {len(prog.green_phases)} "
                f"green phases but the plan gives {len(timing.greens)} greens"
            )
        run = phases(prog, timing)
        for m in net.movements:
            if m.tls != tls or not m.link_indices:
                continue
            if not (flows[m.index] > 0 if flows is not None else _ever_green(prog.phases, m)):
                continue
            # max-pressure may run any phase of the program; the others run the plan's
            served = _ever_green(
                prog.phases
                if plan.policy == "max_pressure"
                else tuple(p for p in run if p.duration_s > 0),
                m,
            )
            if not served:
                a, b = net.edges[m.from_edge].id, net.edges[m.to_edge].id
                raise ControlError(
                    f"plan {plan.label!r} would deadlock traffic light {tls!r}: the movement "
                    f"{a} -> {b} has demand but never gets green; give its phase a green "
                    f"of at least {MIN_GREEN_S:g} s"
                )


def _ever_green(phases: tuple[Phase, ...], m: Movement) -> bool:
    idx = m.link_indices
    return any(any(i < len(p.state) and p.state[i] in "Gg" for i in idx) for p in phases)
