"""One road network from any SUMO ``.net.xml``: the model both worlds share.

:func:`read_net` reads a network with sumolib (after a defusedxml pass that refuses
entity declarations, so no file can expand into gigabytes) into a :class:`RoadNet`:

* **edges** (non-internal, open to passenger cars) with length, lanes, speed and priority;
* **movements**: the lane-to-lane connections of one edge into the next, grouped per
  (from edge, to edge), with their lanes, direction, the traffic light and its link
  indices, the junction's right-of-way state (``M`` major, ``m`` minor, ``=`` all-way
  stop, ``s`` stop...) and the movements they must yield to (from the junction's
  request table: what SUMO's own junction model uses);
* **programs**: every traffic-light program with all its phases (duration, state
  string, min/max duration), type and offset;
* ``graph``: a networkx ``MultiDiGraph`` over junctions with one arc per edge (keyed by
  the edge id, attributes as above) for routing and reports.

Synthetic grids come through the same path: ``netgenerate`` writes them as ``.net.xml``.
The synthetic scenarios' arterial is built as a :class:`RoadNet` directly
(:mod:`parallel.traffic.synthetic`), so that it needs no SUMO installed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx

from parallel.core.errors import UserInputError

#: vehicle class the artificial world models
VCLASS = "passenger"


class NetworkFileError(UserInputError):
    """A network file is missing, unsafe, or not a SUMO network."""


@dataclass(frozen=True)
class Edge:
    """A road link: one SUMO edge."""

    id: str
    from_node: str
    to_node: str
    length_m: float
    lanes: int
    speed_mps: float
    priority: int
    lane_indices: tuple[int, ...] = ()
    """SUMO indices of the lanes open to passenger cars (0 is the rightmost)."""


@dataclass(frozen=True)
class Movement:
    """All lane connections from one edge into the next at a junction."""

    index: int
    from_edge: int
    to_edge: int
    node: str
    lanes: int
    """Distinct lanes of the upstream edge that feed it (its share of the stop line)."""
    from_lanes: tuple[int, ...]
    """SUMO indices of those lanes (a lane can feed several movements: shared lanes)."""
    direction: str
    """SUMO's direction: ``s`` straight, ``l``/``L`` left, ``r``/``R`` right, ``t`` turn."""
    tls: str | None
    link_indices: tuple[int, ...]
    """The traffic light's link indices of its lane connections (empty if unsignalised)."""
    state: str
    """Right of way without signal: ``M`` major, ``m`` minor, ``=`` all-way, ``s`` stop..."""
    yields_to: tuple[int, ...] = ()
    """Movements that have right of way over this one (SUMO's request table)."""
    lane_pairs: tuple[tuple[int, int], ...] = ()
    """(upstream lane, downstream lane) of each lane connection, by SUMO index: which lane
    of the next edge a vehicle arrives on (empty: not known, any lane)."""
    internal_m: tuple[float, ...] = ()
    """Per lane pair (same order): the length of the junction's internal lanes that the
    connection drives over, m (SUMO's ``via`` lanes; 0 where it has none). Vehicles stand
    there too, so a short edge behind a wide junction stores more than its own length."""


@dataclass(frozen=True)
class Phase:
    duration_s: float
    state: str
    min_dur_s: float | None = None
    max_dur_s: float | None = None

    @property
    def is_green(self) -> bool:
        """A phase in which something may go and nothing is amber."""
        return any(c in "Gg" for c in self.state) and not any(c in "yYu" for c in self.state)


@dataclass(frozen=True)
class Program:
    """One traffic-light program as the network file defines it."""

    tls: str
    program_id: str
    type: str
    offset_s: float
    phases: tuple[Phase, ...]

    @property
    def cycle_s(self) -> float:
        return float(sum(p.duration_s for p in self.phases))

    @property
    def green_phases(self) -> list[int]:
        return [i for i, p in enumerate(self.phases) if p.is_green]


@dataclass(frozen=True, eq=False)  # identity hash: the cached graph is keyed by the object
class RoadNet:
    """A SUMO network as plain, picklable data (workers rebuild nothing)."""

    file: str
    edges: tuple[Edge, ...]
    movements: tuple[Movement, ...]
    programs: dict[str, Program]
    junction_types: dict[str, str]
    edge_index: dict[str, int] = field(repr=False)
    out_movements: tuple[tuple[int, ...], ...] = field(repr=False)
    """Per edge: the movements leaving its downstream end."""
    node_pos: dict[str, tuple[float, float]] = field(default_factory=dict, repr=False)
    """Junction coordinates, m (SUMO's network coordinates)."""

    @property
    def graph(self) -> nx.MultiDiGraph:
        """Junctions as nodes, one arc per edge keyed by its id (built once, cached)."""
        return _graph(self)

    def movement(self, from_edge: int, to_edge: int) -> int | None:
        """The movement from one edge into another, if they connect."""
        for m in self.out_movements[from_edge]:
            if self.movements[m].to_edge == to_edge:
                return m
        return None

    def free_time_s(self, route: list[int] | tuple[int, ...]) -> float:
        """Free-flow time of a route at the speed limits."""
        return float(sum(self.edges[e].length_m / self.edges[e].speed_mps for e in route))

    def route_ids(self, names: list[str], where: str) -> list[int]:
        """Edge ids to indices, checked: consecutive edges must connect.

        Raises:
            UserInputError: an unknown edge or a gap in the route, naming ``where``.
        """
        try:
            route = [self.edge_index[n] for n in names]
        except KeyError as exc:
            raise UserInputError(
                f"{where}: edge {exc.args[0]!r} is not in the network {self.file} "
                "(or is closed to passenger cars); use the edge ids of that .net.xml"
            ) from None
        for a, b in zip(route, route[1:]):
            if self.movement(a, b) is None:
                raise UserInputError(
                    f"{where}: edge {self.edges[a].id!r} does not connect to {self.edges[b].id!r} "
                    f"in {self.file}"
                )
        return route


@functools.lru_cache(maxsize=8)
def _graph(net: RoadNet) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    for node, kind in net.junction_types.items():
        g.add_node(node, type=kind)
    for i, e in enumerate(net.edges):
        g.add_edge(
            e.from_node,
            e.to_node,
            key=e.id,
            index=i,
            length_m=e.length_m,
            lanes=e.lanes,
            speed_mps=e.speed_mps,
            priority=e.priority,
            movements=[net.movements[m].to_edge for m in net.out_movements[i]],
        )
    return g


def check_safe_xml(path: Path) -> None:
    """Refuse XML with entity declarations before any parser expands them.

    Raises:
        NetworkFileError: the file declares entities or is not well-formed XML.
    """
    import defusedxml.ElementTree as DET
    from defusedxml import DefusedXmlException

    try:
        for _ in DET.iterparse(str(path), forbid_dtd=False, forbid_entities=True):
            pass
    except DefusedXmlException as exc:
        raise NetworkFileError(
            f"{path}: refused: the XML declares entities ({exc}); a SUMO file never needs them"
        ) from None
    except Exception as exc:  # ParseError and friends: the user's file
        raise NetworkFileError(f"{path}: not well-formed XML ({exc})") from None


def _root_tag(path: Path) -> str:
    import defusedxml.ElementTree as DET

    for _, el in DET.iterparse(str(path), events=("start",), forbid_entities=True):
        return str(el.tag)
    return ""


def read_net(path: str | Path) -> RoadNet:
    """Read a SUMO network (cached per file and modification time).

    Raises:
        NetworkFileError: the file is missing, unsafe, or not a SUMO ``<net>``.
    """
    p = Path(path).resolve()
    if not p.is_file():
        raise NetworkFileError(f"{p}: network file not found; give a SUMO .net.xml")
    return _read_cached(str(p), p.stat().st_mtime_ns)


def require_net_file(p: Path) -> None:
    """Refuse anything but a safe SUMO ``<net>`` file before sumolib parses it.

    Raises:
        NetworkFileError: unsafe XML, not XML, or another root element, naming the file.
    """
    check_safe_xml(p)
    tag = _root_tag(p)
    if tag != "net":
        raise NetworkFileError(
            f"{p}: not a SUMO network (the root element is <{tag}>, not <net>); "
            "give a .net.xml written by netconvert or netgenerate"
        )


@functools.lru_cache(maxsize=8)
def _read_cached(path: str, mtime: int) -> RoadNet:
    p = Path(path)
    require_net_file(p)
    try:
        import sumolib
    except ImportError:
        raise NetworkFileError(
            "reading a SUMO network needs sumolib: pip install -e '.[sumo]'"
        ) from None
    # internal lanes too: their lengths are junction storage (the edges filter them out)
    net = sumolib.net.readNet(
        str(p), withPrograms=True, withPedestrianConnections=False, withInternal=True
    )
    return _from_sumolib(net, str(p))


def _from_sumolib(net: object, path: str) -> RoadNet:
    sedges = [
        e
        for e in net.getEdges()  # type: ignore[attr-defined]
        if e.getFunction() != "internal" and any(ln.allows(VCLASS) for ln in e.getLanes())
    ]
    edges = tuple(
        Edge(
            e.getID(),
            e.getFromNode().getID(),
            e.getToNode().getID(),
            max(float(e.getLength()), 0.1),
            sum(1 for ln in e.getLanes() if ln.allows(VCLASS)),
            float(e.getSpeed()),
            int(e.getPriority()),
            tuple(ln.getIndex() for ln in e.getLanes() if ln.allows(VCLASS)),
        )
        for e in sedges
    )
    idx = {e.id: i for i, e in enumerate(edges)}
    groups: dict[tuple[int, int], list[object]] = {}
    for e in sedges:
        for to_edge, conns in e.getOutgoing().items():
            if to_edge.getID() not in idx:
                continue
            ok = [
                c for c in conns if c.getFromLane().allows(VCLASS) and c.getToLane().allows(VCLASS)
            ]
            if ok:
                groups[(idx[e.getID()], idx[to_edge.getID()])] = ok
    movements, link_to_movement = _movements(net, groups)
    movements = _with_yields(net, movements, groups, link_to_movement)
    out: list[list[int]] = [[] for _ in edges]
    for m in movements:
        out[m.from_edge].append(m.index)
    programs = _programs(net)
    return RoadNet(
        file=path,
        edges=edges,
        movements=tuple(movements),
        programs=programs,
        junction_types={n.getID(): n.getType() for n in net.getNodes()},  # type: ignore[attr-defined]
        edge_index=idx,
        out_movements=tuple(tuple(o) for o in out),
        node_pos={n.getID(): _xy(n.getCoord()) for n in net.getNodes()},  # type: ignore[attr-defined]
    )


def _xy(coord: tuple[float, ...]) -> tuple[float, float]:
    return float(coord[0]), float(coord[1])


def _movements(
    net: object, groups: dict[tuple[int, int], list[object]]
) -> tuple[list[Movement], dict[tuple[str, int], int]]:
    movements: list[Movement] = []
    junction_link: dict[tuple[str, int], int] = {}
    for k, ((a, b), conns) in enumerate(sorted(groups.items())):
        c0 = conns[0]
        node = c0.getFrom().getToNode()  # type: ignore[attr-defined]
        tls = c0.getTLSID() or None  # type: ignore[attr-defined]
        links = tuple(sorted({int(c.getTLLinkIndex()) for c in conns if c.getTLLinkIndex() >= 0}))  # type: ignore[attr-defined]
        states = [c.getState() for c in conns]  # type: ignore[attr-defined]
        pairs: dict[tuple[int, int], float] = {}
        for c in conns:
            pair = (c.getFromLane().getIndex(), c.getToLane().getIndex())  # type: ignore[attr-defined]
            pairs[pair] = max(pairs.get(pair, 0.0), _via_length(net, c))
        movements.append(
            Movement(
                index=k,
                from_edge=a,
                to_edge=b,
                node=node.getID(),
                lanes=len({c.getFromLane().getIndex() for c in conns}),  # type: ignore[attr-defined]
                from_lanes=tuple(sorted({c.getFromLane().getIndex() for c in conns})),  # type: ignore[attr-defined]
                direction=str(c0.getDirection()),  # type: ignore[attr-defined]
                tls=tls,
                link_indices=links,
                # the weakest right of way among its lanes decides
                state=min(states, key=lambda s: "Mm=swo".find(s) if s in "Mm=swo" else 9),
                lane_pairs=tuple(sorted(pairs)),
                internal_m=tuple(pairs[pair] for pair in sorted(pairs)),
            )
        )
        for c in conns:
            ji = c.getJunctionIndex()  # type: ignore[attr-defined]
            if ji is not None and ji >= 0:
                junction_link[(node.getID(), int(ji))] = k
    return movements, junction_link


def _via_length(net: object, conn: object) -> float:
    """Length of the internal lanes a connection drives over (a turn waiting inside the
    junction has two: one to its waiting position, one on), 0 if it has none."""
    total, via, seen = 0.0, conn.getViaLaneID(), set()  # type: ignore[attr-defined]
    while via and via not in seen:
        seen.add(via)
        lane = net.getLane(via)  # type: ignore[attr-defined]
        total += float(lane.getLength())
        nxt = lane.getOutgoing()
        via = nxt[0].getViaLaneID() if nxt else ""
    return total


def _with_yields(
    net: object,
    movements: list[Movement],
    groups: dict[tuple[int, int], list[object]],
    link_to_movement: dict[tuple[str, int], int],
) -> list[Movement]:
    """Attach to each movement the movements that SUMO's request table puts before it."""
    out = []
    for m, ((_, _), conns) in zip(movements, sorted(groups.items())):
        node = net.getNode(m.node)  # type: ignore[attr-defined]
        prohibits = getattr(node, "_prohibits", {}) or {}
        before: set[int] = set()
        for c in conns:
            ji = c.getJunctionIndex()  # type: ignore[attr-defined]
            bits = prohibits.get(ji) if ji is not None else None
            if not bits:
                continue
            for j, bit in enumerate(reversed(bits)):
                other = link_to_movement.get((m.node, j))
                if bit == "1" and other is not None and other != m.index:
                    before.add(other)
        out.append(
            Movement(**{**m.__dict__, "yields_to": tuple(sorted(before))})  # frozen: rebuild
        )
    return out


def _programs(net: object) -> dict[str, Program]:
    out: dict[str, Program] = {}
    for tls in net.getTrafficLights():  # type: ignore[attr-defined]
        progs = tls.getPrograms()
        if not progs:
            continue
        pid, prog = sorted(progs.items())[0]
        phases = tuple(
            Phase(
                float(ph.duration),
                str(ph.state),
                float(ph.minDur) if ph.minDur not in (None, -1) else None,
                float(ph.maxDur) if ph.maxDur not in (None, -1) else None,
            )
            for ph in prog.getPhases()
        )
        out[tls.getID()] = Program(
            tls.getID(), str(pid), str(prog.getType()), float(prog.getOffset() or 0.0), phases
        )
    return out


def require_signals(net: RoadNet, where: str) -> None:
    """Raise if the network has no traffic light with a program.

    Raises:
        NetworkFileError: naming the file and what the scenario needs.
    """
    if not net.programs:
        raise NetworkFileError(
            f"{net.file}: the network has no traffic lights, but {where} needs signal "
            "programs to control; give a network with <tlLogic> elements (netconvert "
            "--tls.guess, or netgenerate --tls.set)"
        )
