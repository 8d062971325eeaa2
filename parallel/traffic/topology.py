"""The compass view of a road network, and the fast lookup tables that the synthetic
scenarios' worlds (the reference IDM world and the queue-per-approach artificial model)
run on.

Every network is first a :class:`~parallel.traffic.network.RoadNet`, the one network
model: a SUMO ``.net.xml`` (any city, or the grid ``netgenerate`` writes for
``network.kind: sumo_grid``) through :func:`parallel.traffic.network.read_net`, the
arterial through :func:`parallel.traffic.synthetic.arterial`. This module only derives the
compass view (which approach is north, which movement is a left turn) from it; a graph
``.json`` that ``parallel record`` wrote is read back as it was written.

Nodes are junctions ``J1..Jn`` (west to east) and boundary nodes (``W``, ``E``, ``Nk``,
``Sk``). Every street is two directed links. A link's detector sits at its downstream
end: the stop line for links into a junction, the boundary for exit links.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import networkx as nx
import numpy as np
from pydantic import Field

from parallel.config.schema import Strict

if TYPE_CHECKING:
    from parallel.traffic.network import RoadNet


class NetworkConfig(Strict):
    """An arterial: ``intersections`` signalised four-arm junctions in a row, west to east."""

    kind: Literal["arterial", "sumo_grid", "file"] = "arterial"
    """``arterial`` builds J1..Jn in a row with a side street at each; ``sumo_grid`` has SUMO's
    netgenerate build a signalised grid; ``file`` reads ``file`` (a SUMO .net.xml or a graph .json)."""
    grid_x: int = Field(3, ge=1, le=10)
    """(sumo_grid) Junction columns, west to east."""
    grid_y: int = Field(3, ge=1, le=10)
    """(sumo_grid) Junction rows, south to north."""
    file: str | None = None
    """(file) Network file relative to the scenario: a SUMO .net.xml or a graph .json from ``parallel record``."""
    intersections: int = Field(1, ge=1, le=12)
    """Number of signalised intersections in a row (1 = a single four-arm intersection)."""
    spacing_m: float = Field(300.0, gt=20, le=5000)
    """Distance between consecutive intersections, metres."""
    approach_length_m: float = Field(250.0, gt=20, le=5000)
    """Length of each entry link from the network boundary to its first stop line, metres."""
    exit_length_m: float = Field(150.0, gt=10, le=5000)
    """Length of each exit link from the last stop line to the boundary, metres."""
    main_lanes: int = Field(2, ge=1, le=6)
    """Lanes per direction on the main (east-west) street."""
    side_lanes: int = Field(1, ge=1, le=6)
    """Lanes per direction on the side (north-south) streets."""
    speed_limit_kmh: float = Field(50.0, gt=5, le=200)
    """Speed limit; free-flow travel times (and so delays) are measured against it."""

    def origins(self) -> list[str]:
        """Boundary nodes where traffic enters (and leaves): W, E, N1, S1, N2, S2... for an
        arterial; netgenerate's fringe names (left0, right0, bottom0, top0...) for a grid."""
        if self.kind == "sumo_grid":
            return sorted(
                [f"left{j}" for j in range(self.grid_y)]
                + [f"right{j}" for j in range(self.grid_y)]
                + [f"bottom{i}" for i in range(self.grid_x)]
                + [f"top{i}" for i in range(self.grid_x)]
            )
        if self.kind == "file":
            return topology(self, self.file).origins
        out = ["W", "E"]
        for k in range(1, self.intersections + 1):
            out += [f"N{k}", f"S{k}"]
        return out


COMPASS = ("N", "E", "S", "W")  # clockwise
LEFT, THROUGH, RIGHT = 0, 1, 2


def _opposite(c: str) -> str:
    return COMPASS[(COMPASS.index(c) + 2) % 4]


def build_graph(cfg: NetworkConfig) -> nx.DiGraph:
    """The arterial's compass graph: :func:`graph_from_net` of
    :func:`parallel.traffic.synthetic.arterial`."""
    from parallel.traffic.synthetic import arterial

    return graph_from_net(arterial(cfg))


def _neighbours(g: nx.DiGraph, j: str) -> dict[str, str]:
    """Compass direction -> neighbouring node of junction ``j``."""
    x, y = g.nodes[j]["pos"]
    out = {}
    for nb in g.successors(j):
        nx_, ny_ = g.nodes[nb]["pos"]
        if abs(ny_ - y) < 1e-9:
            out["E" if nx_ > x else "W"] = nb
        else:
            out["N" if ny_ > y else "S"] = nb
    return out


@dataclass(frozen=True)
class Topology:
    """Array views of the graph for the simulators' inner loops.

    Link-indexed arrays have shape (L,). ``next_link`` has shape (L, 3): the link taken
    after a left, through or right movement at the link's downstream junction (-1 for
    exit links).
    """

    graph: nx.DiGraph
    links: list[str]
    length: np.ndarray
    lanes: np.ndarray
    speed: np.ndarray
    approach: np.ndarray  # bool
    main: np.ndarray  # bool
    junction: np.ndarray  # junction index of an approach's downstream node, else -1
    next_link: np.ndarray
    exit_node: list[str]  # boundary node of an exit link, else ""
    entry_link: dict[str, int]  # origin -> its entry link
    origins: list[str]

    @property
    def n_junctions(self) -> int:
        return int(self.junction.max()) + 1

    def saturation_flow(self, headway_s: float) -> dict[str, float]:
        """Saturation flow of every approach, veh/h: lanes x 3600 / saturation headway."""
        return {
            self.links[i]: float(self.lanes[i] * 3600.0 / headway_s)
            for i in np.flatnonzero(self.approach)
        }

    def free_time(self, link: int) -> float:
        return float(self.length[link] / self.speed[link])


def graph_to_json(g: nx.DiGraph) -> dict:
    """The graph as node-link JSON (what ``parallel record`` writes beside its data)."""
    return nx.node_link_data(g, edges="edges")


def graph_from_json(data: dict) -> nx.DiGraph:
    g = nx.node_link_graph(data, directed=True, edges="edges")
    for _, d in g.nodes(data=True):
        d["pos"] = tuple(d["pos"])
    return g


def graph_from_net(net: RoadNet) -> nx.DiGraph:
    """The compass view of a :class:`RoadNet` that the synthetic scenarios' worlds run on.

    Signalised nodes become junctions (numbered west to east, then south to north); the
    other nodes are boundary nodes. An edge that runs more east-west than north-south is a
    main-street edge (served by phase 1).

    Edge attributes: ``id`` (``u>w``), ``sumo_id``, ``length_m``, ``lanes``, ``speed_mps``,
    ``main`` (bool), ``role`` (``approach`` into a signalised junction, or ``exit``).
    """
    g = nx.DiGraph()
    tls_nodes = {m.node for m in net.movements if m.tls is not None}
    junctions = sorted(tls_nodes, key=lambda n: net.node_pos[n])
    for nid in net.junction_types:
        kind = "junction" if nid in tls_nodes else "boundary"
        g.add_node(nid, kind=kind, pos=net.node_pos[nid])
        if kind == "junction":
            g.nodes[nid]["index"] = junctions.index(nid)
    for e in net.edges:
        u, w = e.from_node, e.to_node
        (x0, y0), (x1, y1) = g.nodes[u]["pos"], g.nodes[w]["pos"]
        g.add_edge(
            u,
            w,
            id=f"{u}>{w}",
            sumo_id=e.id,
            length_m=e.length_m,
            lanes=e.lanes,
            speed_mps=e.speed_mps,
            main=abs(x1 - x0) >= abs(y1 - y0),
            role="approach" if g.nodes[w]["kind"] == "junction" else "exit",
        )
    return g


def graph_from_sumo(net_file: str | Path) -> nx.DiGraph:
    """A SUMO ``.net.xml``'s compass view: :func:`graph_from_net` of
    :func:`parallel.traffic.network.read_net` (the one reader of SUMO networks)."""
    from parallel.traffic.network import read_net

    return graph_from_net(read_net(net_file))


def topology(cfg: NetworkConfig, net_file: str | None = None) -> Topology:
    """Build (or fetch from the cache) the graph and its lookup tables.

    ``net_file`` is a SUMO ``.net.xml`` or a graph ``.json``; without it the scenario's
    arterial generator builds the graph.
    """
    return _topology_cached(cfg, net_file)


@functools.lru_cache(maxsize=16)
def _topology_cached(cfg: NetworkConfig, net_file: str | None) -> Topology:
    if net_file is None:
        return topology_from_graph(build_graph(cfg))
    if net_file.endswith(".json"):
        return topology_from_graph(graph_from_json(json.loads(Path(net_file).read_text())))
    return topology_from_graph(graph_from_sumo(net_file))


def topology_from_graph(g: nx.DiGraph) -> Topology:
    """Lookup tables from a graph with the attributes :func:`build_graph` documents."""
    edges = sorted(g.edges(data=True), key=lambda e: e[2]["id"])
    links = [e[2]["id"] for e in edges]
    idx = {lid: i for i, lid in enumerate(links)}
    n = len(links)
    next_link = -np.ones((n, 3), np.int64)
    junction = -np.ones(n, np.int64)
    exit_node = [""] * n
    for u, w, d in edges:
        i = idx[d["id"]]
        if d["role"] == "exit":
            exit_node[i] = w
            continue
        junction[i] = g.nodes[w]["index"]
        nbs = _neighbours(g, w)
        came_from = next(c for c, node in nbs.items() if node == u)
        heading = _opposite(came_from)
        h = COMPASS.index(heading)
        for turn, target in (
            (LEFT, COMPASS[(h - 1) % 4]),
            (THROUGH, heading),
            (RIGHT, COMPASS[(h + 1) % 4]),
        ):
            if target in nbs:
                next_link[i, turn] = idx[g.edges[w, nbs[target]]["id"]]
        # a missing movement (a T-junction) falls back to the nearest existing one
        for turn in (LEFT, THROUGH, RIGHT):
            if next_link[i, turn] < 0:
                alt = next_link[i, THROUGH] if next_link[i, THROUGH] >= 0 else next_link[i].max()
                next_link[i, turn] = alt
    origins = sorted(
        (nid for nid, d in g.nodes(data=True) if d["kind"] == "boundary"), key=_origin_order
    )
    entry = {o: idx[g.edges[o, next(iter(g.successors(o)))]["id"]] for o in origins}
    return Topology(
        graph=g,
        links=links,
        length=np.array([d["length_m"] for _, _, d in edges]),
        lanes=np.array([d["lanes"] for _, _, d in edges], np.int64),
        speed=np.array([d["speed_mps"] for _, _, d in edges]),
        approach=np.array([d["role"] == "approach" for _, _, d in edges]),
        main=np.array([d["main"] for _, _, d in edges]),
        junction=junction,
        next_link=next_link,
        exit_node=exit_node,
        entry_link=entry,
        origins=origins,
    )


def _origin_order(name: str) -> tuple[int, str]:
    """W, E, N1, S1, N2, S2... for arterials; alphabetical otherwise."""
    order = {"W": "0", "E": "1"}
    return (
        (0, order[name])
        if name in order
        else (1, name[1:].zfill(4) + name[0] if name[0] in "NS" and name[1:].isdigit() else name)
    )
