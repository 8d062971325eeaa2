"""Lanes in the artificial world: global lane ids, storage, and which lanes a route uses.

Storage, queues and discharge are per lane. A vehicle picks, on entering an edge, the
least occupied lane among those its route may use there: lanes that feed its next
movement and, where the network gives its lane-to-lane connections, lanes from which it
can still reach the lanes it needs further on (SUMO's vehicles choose their lanes with
the whole route ahead in view, its "best lanes").
"""

from __future__ import annotations

from dataclasses import dataclass

from parallel.traffic.network import Movement, RoadNet


@dataclass(frozen=True)
class LaneTables:
    """Global lane ids (0..n-1) of a network's passenger lanes, and what each holds."""

    lane_edge: list[int]
    """Per lane: its edge."""
    lane_cap: list[int]
    """Per lane: vehicles it stores (length / jam spacing, at least one; with the
    junction storage, the longest internal lane leading into it counts as length)."""
    lane_id: dict[tuple[int, int], int]
    """(edge, SUMO lane index) -> lane."""
    edge_lanes: list[list[int]]
    """Per edge: its lanes."""
    mov_lanes: list[list[int]]
    """Per movement: the lanes that feed it."""

    @classmethod
    def of(cls, net: RoadNet, jam_spacing_m: float, junction_storage: bool = False) -> LaneTables:
        """The tables of ``net``. ``junction_storage``: a lane also stores vehicles on
        the longest internal lane that leads into it (a vehicle past the stop line
        upstream stands on the junction, as in SUMO, and is counted on the lane it
        enters)."""
        extra = _junction_storage(net) if junction_storage else {}
        lane_edge: list[int] = []
        lane_cap: list[int] = []
        lane_id: dict[tuple[int, int], int] = {}
        edge_lanes: list[list[int]] = []
        for i, e in enumerate(net.edges):
            ids = []
            for sumo_index in e.lane_indices or (0,):
                lane_id[(i, sumo_index)] = len(lane_edge)
                ids.append(len(lane_edge))
                lane_edge.append(i)
                room = e.length_m + extra.get((i, sumo_index), 0.0)
                lane_cap.append(max(1, int(room / jam_spacing_m)))
            edge_lanes.append(ids)
        mov_lanes = [
            [lane_id[(m.from_edge, k)] for k in m.from_lanes if (m.from_edge, k) in lane_id]
            or edge_lanes[m.from_edge]
            for m in net.movements
        ]
        return cls(lane_edge, lane_cap, lane_id, edge_lanes, mov_lanes)

    def landing(self, net: RoadNet) -> list[dict[int, list[int]]]:
        """Per movement: upstream lane (SUMO index) -> the lanes it leads onto
        downstream, from the network's lane connections (empty where not known)."""
        out: list[dict[int, list[int]]] = []
        for mv in net.movements:
            d: dict[int, list[int]] = {}
            for f, t in mv.lane_pairs:
                if (mv.to_edge, t) in self.lane_id:
                    d.setdefault(f, []).append(self.lane_id[(mv.to_edge, t)])
            out.append(d)
        return out

    def route_lanes(
        self, net: RoadNet, route: tuple[int, ...], movs: list[int], lane_change_m: float
    ) -> list[list[int]]:
        """Per edge of a route, the lanes a vehicle may queue in there.

        A lane must feed the route's next movement, and (``lane_change_m`` > 0) arrive on
        the next edge close enough to that edge's own usable lanes to change over in its
        length, ``lane_change_m`` per lane. Worked backwards from the last edge, so a lane
        funnel at a short edge reaches upstream as SUMO's strategic lane choice does (its
        vehicles line up early for a lane they could not reach later).
        """
        if lane_change_m <= 0:
            return [*(self.mov_lanes[m] for m in movs), self.edge_lanes[route[-1]]]
        good: set[int] = set(net.edges[route[-1]].lane_indices or (0,))
        out: list[list[int]] = [self.edge_lanes[route[-1]]]
        for k in range(len(movs) - 1, -1, -1):
            room = net.edges[route[k + 1]].length_m
            good = lanes_on_time(net.movements[movs[k]], good, room, lane_change_m)
            ids = [
                self.lane_id[(route[k], f)] for f in sorted(good) if (route[k], f) in self.lane_id
            ]
            out.append(ids or self.mov_lanes[movs[k]])
        out.reverse()
        return out


def _junction_storage(net: RoadNet) -> dict[tuple[int, int], float]:
    """(edge, SUMO lane index) -> the longest internal lane that leads into it, m."""
    out: dict[tuple[int, int], float] = {}
    for mv in net.movements:
        for (_, to), length in zip(mv.lane_pairs, mv.internal_m):
            key = (mv.to_edge, to)
            out[key] = max(out.get(key, 0.0), length)
    return out


def lanes_on_time(mv: Movement, ahead: set[int], room_m: float, lane_change_m: float) -> set[int]:
    """The lanes (SUMO indices) of ``mv``'s edge from which a vehicle reaches one of the
    lanes ``ahead`` on the next edge, changing lanes in its ``room_m`` at ``lane_change_m``
    per lane; if none can, those needing the fewest changes. All the movement's lanes
    when its lane connections are not known (``lane_pairs`` empty)."""
    if not mv.lane_pairs:
        return set(mv.from_lanes)
    need: dict[int, int] = {}
    for f, t in mv.lane_pairs:
        n = min(abs(t - g) for g in ahead)
        need[f] = min(n, need.get(f, n))
    fit = {f for f, n in need.items() if n * lane_change_m <= room_m}
    return fit or {f for f, n in need.items() if n == min(need.values())}
