"""Synthetic networks as :class:`~parallel.traffic.network.RoadNet`: the arterial.

Every network goes through one model, :class:`RoadNet`. A SUMO ``.net.xml`` (a real city,
or a grid that ``netgenerate`` wrote) is read by :func:`parallel.traffic.network.read_net`;
the arterial of the synthetic scenarios is built here, in Python, so that those scenarios
keep running where SUMO is not installed. It is the network ``netgenerate --grid
--grid.y-number=1 --grid.attach-length=...`` writes (a row of four-arm junctions with a side
street at each; ``tests/traffic/test_synthetic.py`` compares the two), with the names the
synthetic scenarios have always used: junctions ``J1..Jn`` west to east, boundary nodes
``W``, ``E``, ``Nk``, ``Sk``, and edges ``u>w``.

Each junction gets what SUMO would give it: every movement but the U-turn, the rightmost
lane turning right and the leftmost turning left (a single lane serves all three), a
static two-phase program (main street, then side street; green 42 s and amber 3 s each,
netgenerate's defaults) with one link index per lane connection, in which left turns are
permissive (``g``) and yield to the opposing through and right-turning traffic.
"""

from __future__ import annotations

from typing import Protocol

from parallel.traffic.network import Edge, Movement, Phase, Program, RoadNet


class NetworkConfig(Protocol):
    """What an arterial is made of (``parallel.traffic.topology.NetworkConfig`` has it;
    a protocol, so that the network model does not depend on the scenario model)."""

    @property
    def intersections(self) -> int: ...
    @property
    def spacing_m(self) -> float: ...
    @property
    def approach_length_m(self) -> float: ...
    @property
    def exit_length_m(self) -> float: ...
    @property
    def main_lanes(self) -> int: ...
    @property
    def side_lanes(self) -> int: ...
    @property
    def speed_limit_kmh(self) -> float: ...


COMPASS = ("N", "E", "S", "W")  # clockwise
#: netgenerate's default static program at 50 km/h: a 90 s cycle of two greens, each
#: followed by a 3 s amber
GREEN_S, AMBER_S = 42.0, 3.0


def _positions(cfg: NetworkConfig) -> dict[str, tuple[float, float]]:
    x0, n = cfg.approach_length_m, cfg.intersections
    pos = {"W": (0.0, 0.0), "E": (2 * x0 + (n - 1) * cfg.spacing_m, 0.0)}
    for k in range(1, n + 1):
        x = x0 + (k - 1) * cfg.spacing_m
        pos[f"J{k}"] = (x, 0.0)
        pos[f"N{k}"] = (x, cfg.approach_length_m)
        pos[f"S{k}"] = (x, -cfg.approach_length_m)
    return pos


def _edges(cfg: NetworkConfig) -> list[Edge]:
    """Both directions of every street: entries have the approach length, exits the exit
    length, links between junctions the spacing."""
    n, v = cfg.intersections, cfg.speed_limit_kmh / 3.6
    out: list[Edge] = []

    def street(a: str, b: str, main: bool, len_ab: float, len_ba: float) -> None:
        lanes = cfg.main_lanes if main else cfg.side_lanes
        for u, w, length in ((a, b, len_ab), (b, a, len_ba)):
            out.append(
                Edge(f"{u}>{w}", u, w, length, lanes, v, 2 if main else 1, tuple(range(lanes)))
            )

    street("W", "J1", True, cfg.approach_length_m, cfg.exit_length_m)
    for k in range(1, n):
        street(f"J{k}", f"J{k + 1}", True, cfg.spacing_m, cfg.spacing_m)
    street("E", f"J{n}", True, cfg.approach_length_m, cfg.exit_length_m)
    for k in range(1, n + 1):
        street(f"N{k}", f"J{k}", False, cfg.approach_length_m, cfg.exit_length_m)
        street(f"S{k}", f"J{k}", False, cfg.approach_length_m, cfg.exit_length_m)
    return out


def _side(pos: dict[str, tuple[float, float]], j: str, nb: str) -> str:
    """Compass side of junction ``j`` on which its neighbour ``nb`` lies."""
    (x, y), (a, b) = pos[j], pos[nb]
    if abs(b - y) < 1e-9:
        return "E" if a > x else "W"
    return "N" if b > y else "S"


def _junction(
    j: str, edges: list[Edge], pos: dict[str, tuple[float, float]], first: int
) -> tuple[list[Movement], Program]:
    """The movements through junction ``j`` (indices from ``first``) and its program."""
    idx = {e.id: i for i, e in enumerate(edges)}
    into = {_side(pos, j, e.from_node): e for e in edges if e.to_node == j}
    out_of = {_side(pos, j, e.to_node): e for e in edges if e.from_node == j}
    movs: list[Movement] = []
    main_links: list[tuple[int, str]] = []
    side_links: list[tuple[int, str]] = []
    link = 0
    for came in COMPASS:  # approaches clockwise from the north, as SUMO numbers links
        if came not in into:
            continue
        e = into[came]
        h = COMPASS.index(COMPASS[(COMPASS.index(came) + 2) % 4])  # the heading
        for d, target in (
            ("r", COMPASS[(h + 1) % 4]),
            ("s", COMPASS[h]),
            ("l", COMPASS[(h - 1) % 4]),
        ):
            if target not in out_of:
                continue
            n = e.lanes
            lanes = (0,) if d == "r" else (n - 1,) if d == "l" else tuple(range(n))
            major = came in "EW" and d != "l"
            movs.append(
                Movement(
                    index=first + len(movs),
                    from_edge=idx[e.id],
                    to_edge=idx[out_of[target].id],
                    node=j,
                    lanes=len(lanes),
                    from_lanes=lanes,
                    direction=d,
                    tls=j,
                    link_indices=tuple(range(link, link + len(lanes))),
                    state="O" if major else "o",
                )
            )
            for i in range(link, link + len(lanes)):  # one link per lane connection
                (main_links if came in "EW" else side_links).append((i, d))
            link += len(lanes)
    return _with_left_yields(movs, pos, edges), _program(j, link, main_links, side_links)


def _with_left_yields(
    movs: list[Movement], pos: dict[str, tuple[float, float]], edges: list[Edge]
) -> list[Movement]:
    """A left turn yields to the opposing approach's through and right turns."""
    out = []
    for m in movs:
        if m.direction != "l":
            out.append(m)
            continue
        came = _side(pos, m.node, edges[m.from_edge].from_node)
        opposite = COMPASS[(COMPASS.index(came) + 2) % 4]
        foes = tuple(
            o.index
            for o in movs
            if o.direction in "sr" and _side(pos, m.node, edges[o.from_edge].from_node) == opposite
        )
        out.append(Movement(**{**m.__dict__, "yields_to": foes}))
    return out


def _program(
    j: str, n_links: int, main: list[tuple[int, str]], side: list[tuple[int, str]]
) -> Program:
    def state(serve: list[tuple[int, str]], colour: str) -> str:
        s = ["r"] * n_links
        for i, d in serve:
            s[i] = ("g" if d == "l" else "G") if colour == "G" else colour
        return "".join(s)

    phases = (
        Phase(GREEN_S, state(main, "G")),
        Phase(AMBER_S, state(main, "y")),
        Phase(GREEN_S, state(side, "G")),
        Phase(AMBER_S, state(side, "y")),
    )
    return Program(j, "0", "static", 0.0, phases)


def arterial(cfg: NetworkConfig) -> RoadNet:
    """The synthetic scenarios' arterial as a :class:`RoadNet` (see the module docstring)."""
    pos = _positions(cfg)
    edges = _edges(cfg)
    movements: list[Movement] = []
    programs: dict[str, Program] = {}
    for k in range(1, cfg.intersections + 1):
        movs, prog = _junction(f"J{k}", edges, pos, len(movements))
        movements += movs
        programs[prog.tls] = prog
    out: list[list[int]] = [[] for _ in edges]
    for m in movements:
        out[m.from_edge].append(m.index)
    return RoadNet(
        file=f"<arterial of {cfg.intersections} junction(s)>",
        edges=tuple(edges),
        movements=tuple(movements),
        programs=programs,
        junction_types={
            n: "traffic_light" if n.startswith("J") else "dead_end" for n in sorted(pos)
        },
        edge_index={e.id: i for i, e in enumerate(edges)},
        out_movements=tuple(tuple(o) for o in out),
        node_pos=pos,
    )
