"""A signal plan for any network: per traffic-light program, each green's length and the offset.

A :class:`TimingPlan` keeps a program's phase order and state strings as the network
defines them and changes only what a traffic engineer retimes: the duration of each
green phase (amber and all-red keep theirs) and the offset. Its cycle is the sum of the
phases. Both worlds apply a plan the same way: SUMO gets it as ``tlLogic`` elements in an
additional file (:func:`tls_xml`), the artificial world runs :func:`phases` in a SimPy
controller.

Re-timings for a design: :func:`scale_cycle` (every green scaled so the cycle changes by a
factor), :func:`move_green` (seconds moved from the first green to the others) and
:func:`shift_offsets` (a progression of offsets along the programs).

The synthetic scenarios' cycle/split/offset plan maps onto it: :func:`split_programs`
gives every traffic light the two-phase program those scenarios assume (main street, then
side street, each green followed by amber and all-red), and :func:`split_plan` turns a
cycle, the two green shares and the offset step into a :class:`TimingPlan` on them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from xml.sax.saxutils import quoteattr

from parallel.traffic.network import Phase, Program, RoadNet

#: no green is retimed below this
MIN_GREEN_S = 5.0
#: amber of the synthetic scenarios' two-phase programs; the rest of the lost time is all-red
SPLIT_AMBER_S = 3.0


@dataclass(frozen=True)
class ProgramTiming:
    """The retimable part of one program."""

    greens: tuple[float, ...]
    """Durations of the program's green phases, in program order, s."""
    offset_s: float


@dataclass(frozen=True)
class TimingPlan:
    """The control of every traffic light: a policy, and per program the greens and offset.

    ``policy`` names an entry of :data:`parallel.traffic.control.POLICIES`: ``fixed`` runs
    the greens as timed; ``actuated`` starts from them and extends or cuts each green
    between its minimum and maximum as the detectors see gaps (with no ``params``: the
    network's own actuated programs, each green between its own ``minDur`` and ``maxDur``,
    SUMO's default gap, and the network's static programs as they are); ``max_pressure`` chooses
    the next green from the queues (the greens are then only the starting point).
    ``params`` are the policy's parameters (name, value), sorted by name.
    """

    label: str
    programs: dict[str, ProgramTiming]
    policy: str = "fixed"
    params: tuple[tuple[str, float], ...] = ()

    @property
    def settings(self) -> dict[str, float]:
        return dict(self.params)

    def to_json(self) -> dict:
        return {
            "label": self.label,
            "policy": self.policy,
            "params": dict(self.params),
            "programs": {
                k: {"greens": list(v.greens), "offset_s": v.offset_s}
                for k, v in sorted(self.programs.items())
            },
        }

    @classmethod
    def from_json(cls, data: dict) -> TimingPlan:
        return cls(
            str(data["label"]),
            {
                k: ProgramTiming(tuple(float(g) for g in v["greens"]), float(v["offset_s"]))
                for k, v in data["programs"].items()
            },
            str(data.get("policy", "fixed")),
            tuple(sorted((str(k), float(v)) for k, v in (data.get("params") or {}).items())),
        )

    def describe(self) -> dict[str, object]:
        """What a design table shows of the plan."""
        return {"plan": self.label, "policy": self.policy}

    def cycle_ratio(self, net: RoadNet) -> float:
        """The mean over programs of this plan's cycle over the network's own cycle."""
        ratios = [self.cycle_s(net, tls) / net.programs[tls].cycle_s for tls in self.programs]
        return float(sum(ratios) / len(ratios)) if ratios else 1.0

    def cycle_s(self, net: RoadNet, tls: str) -> float:
        prog = net.programs[tls]
        return sum(p.duration_s for p in phases(prog, self.programs[tls]))


#: SUMO's ``max-gap`` of an actuated program that sets none, s
SUMO_MAX_GAP_S = 3.0


def incumbent(net: RoadNet, label: str = "incumbent") -> TimingPlan:
    """The network's own programs as a plan: fixed time, or, where the network has
    actuated programs, those as SUMO runs them (policy ``actuated`` with no parameters:
    :func:`own_actuated`). A city that actuates its lights is judged, calibrated on and
    compared against under that control, not a fixed-time copy of it."""
    actuated = any(own_actuated(prog) for prog in net.programs.values())
    return TimingPlan(
        label,
        {
            tls: ProgramTiming(
                tuple(prog.phases[i].duration_s for i in prog.green_phases), prog.offset_s
            )
            for tls, prog in net.programs.items()
        },
        "actuated" if actuated else "fixed",
    )


def own_actuated(prog: Program) -> bool:
    """Whether SUMO actuates this program as the network defines it."""
    return prog.type == "actuated"


def actuated_here(plan: TimingPlan, prog: Program) -> bool:
    """Whether ``plan`` actuates ``prog``: an actuated plan with its own parameters
    actuates every program; one without (the network's own control) only the programs
    the network actuates."""
    return plan.policy == "actuated" and (bool(plan.params) or own_actuated(prog))


def green_bounds(plan: TimingPlan, phase: Phase) -> tuple[float, float]:
    """An actuated green's shortest and longest duration: the plan's, or the phase's own
    ``minDur``/``maxDur`` (its duration where the network gives none)."""
    if plan.params:
        st = plan.settings
        return st["min_green_s"], max(st["max_green_s"], st["min_green_s"])
    lo = phase.duration_s if phase.min_dur_s is None else phase.min_dur_s
    hi = phase.duration_s if phase.max_dur_s is None else phase.max_dur_s
    return lo, max(hi, lo)


def phases(prog: Program, timing: ProgramTiming) -> list[Phase]:
    """The program's phases with the plan's green durations."""
    greens = iter(timing.greens)
    return [
        Phase(next(greens), p.state, p.min_dur_s, p.max_dur_s) if p.is_green else p
        for p in prog.phases
    ]


def scale_cycle(
    plan: TimingPlan, net: RoadNet, factor: float | dict[str, float], label: str
) -> TimingPlan:
    """Every program's cycle times ``factor`` (one for all, or one per traffic light), the
    change taken by the greens alone."""
    out = {}
    for tls, t in plan.programs.items():
        cycle = plan.cycle_s(net, tls)
        fixed = cycle - sum(t.greens)
        f = factor[tls] if isinstance(factor, dict) else factor
        green_total = max(cycle * f - fixed, MIN_GREEN_S * len(t.greens))
        k = green_total / max(sum(t.greens), 1e-9)
        out[tls] = ProgramTiming(
            tuple(max(MIN_GREEN_S, round(g * k, 1)) for g in t.greens), t.offset_s
        )
    return TimingPlan(label, out)


def move_green(plan: TimingPlan, seconds: float, label: str) -> TimingPlan:
    """Move ``seconds`` from each program's first green to its other greens (split evenly);
    a negative value moves green the other way. The cycle stays the same."""
    out = {}
    for tls, t in plan.programs.items():
        g = list(t.greens)
        if len(g) < 2:
            out[tls] = t
            continue
        s = seconds
        if s > 0:
            s = min(s, g[0] - MIN_GREEN_S)
        else:
            s = max(s, -min(x - MIN_GREEN_S for x in g[1:]) * (len(g) - 1))
        g[0] -= s
        g[1:] = [x + s / (len(g) - 1) for x in g[1:]]
        out[tls] = ProgramTiming(tuple(round(x, 1) for x in g), t.offset_s)
    return TimingPlan(label, out)


def shift_offsets(plan: TimingPlan, net: RoadNet, step_s: float, label: str) -> TimingPlan:
    """Offsets in progression: the k-th program (sorted by id) shifted by ``k * step_s``."""
    out = {}
    for k, (tls, t) in enumerate(sorted(plan.programs.items())):
        cycle = plan.cycle_s(net, tls)
        out[tls] = ProgramTiming(t.greens, round((t.offset_s + k * step_s) % cycle, 1))
    return TimingPlan(label, out)


def tls_xml(net: RoadNet, plan: TimingPlan, program_id: str = "parallel") -> str:
    """``<tlLogic>`` elements that make SUMO run ``plan`` (an additional file's body).

    ``fixed`` plans are static programs. ``actuated`` plans are SUMO's own
    ``type="actuated"`` programs: each green gets ``minDur``/``maxDur`` from the plan's
    ``min_green_s``/``max_green_s`` and the ``max-gap`` parameter, amber and all-red keep
    their durations. (``max_pressure`` is driven step by step through libsumo; its
    program here is only the fixed-time start.)
    """
    st = plan.settings
    parts = []
    for tls, timing in sorted(plan.programs.items()):
        prog = net.programs[tls]
        act = actuated_here(plan, prog)
        body = ""
        for p in phases(prog, timing):
            if p.duration_s <= 0:
                continue
            dur = quoteattr(f"{p.duration_s:.2f}")
            extra = ""
            if act and p.is_green:
                lo, hi = green_bounds(plan, p)
                extra = f' minDur="{lo:.2f}" maxDur="{hi:.2f}"'
            body += f"    <phase duration={dur} state={quoteattr(p.state)}{extra}/>\n"
        if act:
            gap = st.get("max_gap_s", SUMO_MAX_GAP_S)
            body += f'    <param key="max-gap" value="{gap:.2f}"/>\n'
        kind = "actuated" if act else "static"
        parts.append(
            f'  <tlLogic id={quoteattr(tls)} type="{kind}" programID={quoteattr(program_id)} '
            f'offset="{timing.offset_s:.2f}">\n{body}  </tlLogic>\n'
        )
    return "".join(parts)


def design(net: RoadNet, n: int, base: TimingPlan | None = None) -> list[TimingPlan]:
    """``base`` (default: the network's own programs) plus ``n - 1`` re-timings of it:
    cycle scaled, green moved, offsets changed.

    Short cycles and greens moved away from the main phase are in the list on purpose:
    they congest the network enough to spill back, which is where a twin must be right.
    """
    base = base or incumbent(net)
    cands = [
        scale_cycle(base, net, 0.6, "cycle x0.6"),
        move_green(base, 12.0, "green -12 s first phase"),
        scale_cycle(base, net, 1.4, "cycle x1.4"),
        move_green(base, -10.0, "green +10 s first phase"),
        shift_offsets(base, net, 20.0, "offsets +20 s steps"),
        scale_cycle(base, net, 0.8, "cycle x0.8"),
        move_green(scale_cycle(base, net, 0.7, ""), 8.0, "cycle x0.7, green -8 s first"),
        scale_cycle(base, net, 1.2, "cycle x1.2"),
        move_green(base, 20.0, "green -20 s first phase"),
        shift_offsets(scale_cycle(base, net, 0.6, ""), net, 15.0, "cycle x0.6, offsets +15 s"),
        move_green(scale_cycle(base, net, 1.3, ""), -8.0, "cycle x1.3, green +8 s first"),
        scale_cycle(base, net, 0.5, "cycle x0.5"),
    ]
    out = [base]
    for c in cands:
        if len(out) >= n:
            break
        if c.programs != base.programs and all(c.programs != o.programs for o in out):
            out.append(c)
    return out


def _main_links(net: RoadNet, tls: str) -> list[tuple[int, bool, str]]:
    """(link index, on the main street?, direction) of a light's links; an approach that
    runs more east-west than north-south is the main street's."""
    out = []
    for m in net.movements:
        if m.tls != tls:
            continue
        e = net.edges[m.from_edge]
        (x0, y0), (x1, y1) = net.node_pos[e.from_node], net.node_pos[e.to_node]
        out += [(i, abs(x1 - x0) >= abs(y1 - y0), m.direction) for i in m.link_indices]
    return sorted(out)


def _split_state(links: list[tuple[int, bool, str]], n: int, main: bool | None, c: str) -> str:
    s = ["r"] * max(n, max((i for i, _, _ in links), default=-1) + 1)
    for i, is_main, d in links:
        if main is not None and is_main == main:  # left turns are permissive
            s[i] = ("g" if d in ("l", "L", "t") else "G") if c == "G" else c
    return "".join(s)


def split_programs(
    net: RoadNet, lost_time_s: float, amber_s: float = SPLIT_AMBER_S
) -> dict[str, Program]:
    """Every traffic light as a synthetic scenario's two-phase program: main street green,
    amber, all-red, side street green, amber, all-red (amber ``min(amber_s, lost_time_s)``,
    all-red the rest of the lost time; greens of 1 s until a plan times them)."""
    out = {}
    amber = min(amber_s, lost_time_s)
    red = lost_time_s - amber
    for tls, prog in net.programs.items():
        links, n = _main_links(net, tls), len(prog.phases[0].state) if prog.phases else 0
        seq = [(1.0, True, "G"), (amber, True, "y"), (red, None, "r"),
               (1.0, False, "G"), (amber, False, "y"), (red, None, "r")]  # fmt: skip
        phases_ = tuple(Phase(d, _split_state(links, n, main, c)) for d, main, c in seq if d > 0)
        out[tls] = Program(tls, "parallel", "static", 0.0, phases_)
    return out


def split_plan(
    net: RoadNet,
    *,
    cycle_s: float,
    splits: tuple[float, float],
    offset_s: float,
    lost_time_s: float,
    label: str,
) -> TimingPlan:
    """A cycle/split/offset plan on :func:`split_programs`: greens ``splits`` x (cycle -
    2 lost times); the k-th light (west to east, then south to north) starts ``k x
    offset_s`` into the cycle."""
    g = cycle_s - 2 * lost_time_s
    order = sorted(net.programs, key=lambda t: _position(net, t))
    return TimingPlan(
        label,
        {
            tls: ProgramTiming((splits[0] * g, splits[1] * g), k * offset_s % cycle_s)
            for k, tls in enumerate(order)
        },
    )


def with_plan(net: RoadNet, plan: TimingPlan) -> RoadNet:
    """The network with ``plan``'s programs as its own (what :func:`incumbent` then reads):
    for a synthetic network whose programs :func:`split_programs` wrote."""
    programs = dict(net.programs)
    for tls, timing in plan.programs.items():
        prog = net.programs[tls]
        programs[tls] = Program(
            tls, prog.program_id, prog.type, timing.offset_s, tuple(phases(prog, timing))
        )
    return replace(net, programs=programs)


def _position(net: RoadNet, tls: str) -> tuple[float, float]:
    nodes = [m.node for m in net.movements if m.tls == tls]
    return net.node_pos.get(nodes[0], (0.0, 0.0)) if nodes else (0.0, 0.0)
