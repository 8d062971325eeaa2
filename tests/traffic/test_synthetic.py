"""The synthetic arterial is a RoadNet: the one network model, the shape netgenerate writes,
runnable by the real-network artificial world, and the source of the compass view."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from parallel.traffic.actual.sumo import available, binary
from parallel.traffic.artificial.meso import simulate_net
from parallel.traffic.artificial.params import Horizon, MesoParams
from parallel.traffic.demand import RouteDemand
from parallel.traffic.network import read_net
from parallel.traffic.synthetic import arterial
from parallel.traffic.timing import incumbent
from parallel.traffic.topology import LEFT, RIGHT, THROUGH, NetworkConfig, topology

CFG = NetworkConfig(
    intersections=2, spacing_m=300, approach_length_m=250, exit_length_m=250, main_lanes=2,
    side_lanes=2,
)  # fmt: skip


def _shape(net) -> tuple:  # type: ignore[no-untyped-def]
    """What a network is, whatever its names: sizes, turns, lanes, programs' shape."""
    return (
        len(net.edges),
        len(net.movements),
        sorted(Counter(m.direction for m in net.movements).items()),
        sorted(Counter((m.direction, m.from_lanes) for m in net.movements).items()),
        sorted(Counter(e.lanes for e in net.edges).items()),
        sorted(
            (len(p.phases), sorted(Counter(p.phases[0].state).items()), p.cycle_s)
            for p in net.programs.values()
        ),
    )


@pytest.mark.skipif(
    not available(), reason="Eclipse SUMO is not installed: pip install -e '.[sumo]'"
)
def test_the_arterial_has_the_shape_netgenerate_writes(tmp_path: Path) -> None:
    out = tmp_path / "row.net.xml"
    subprocess.run(
        [
            binary("netgenerate"), "--grid", "--grid.x-number=2", "--grid.y-number=1",
            "--grid.length=300", "--grid.attach-length=250", "--default.lanenumber=2",
            "--no-turnarounds=true", "--tls.set=A0,B0", "--tls.default-type=static",
            "-o", str(out),
        ],
        check=True, capture_output=True,
    )  # fmt: skip
    assert _shape(arterial(CFG)) == _shape(read_net(out))


def test_the_compass_view_is_derived_from_the_roadnet() -> None:
    net = arterial(CFG)
    topo = topology(CFG)
    assert sorted(topo.links) == sorted(e.id for e in net.edges)
    i = topo.links.index("W>J1")
    turns = {k: topo.links[topo.next_link[i, k]] for k in (LEFT, THROUGH, RIGHT)}
    assert turns == {LEFT: "J1>N1", THROUGH: "J1>J2", RIGHT: "J1>S1"}
    # and the same turns are the RoadNet's movements, with SUMO's direction letters
    w = net.edge_index["W>J1"]
    got = {net.edges[net.movements[m].to_edge].id: net.movements[m].direction
           for m in net.out_movements[w]}  # fmt: skip
    assert got == {"J1>N1": "l", "J1>J2": "s", "J1>S1": "r"}


def test_a_left_turn_yields_to_the_opposing_stream() -> None:
    net = arterial(CFG)
    left = net.movement(net.edge_index["W>J1"], net.edge_index["J1>N1"])
    assert left is not None
    foes = {
        (net.edges[net.movements[o].from_edge].id, net.movements[o].direction)
        for o in net.movements[left].yields_to
    }
    assert foes == {("J2>J1", "s"), ("J2>J1", "r")}


def test_the_real_network_world_runs_on_the_arterial() -> None:
    net = arterial(CFG)
    ids = net.edge_index
    east = (ids["W>J1"], ids["J1>J2"], ids["J2>E"])
    north = (ids["S1>J1"], ids["J1>N1"])
    demand = RouteDemand((east, north), np.array([600.0, 150.0]), np.ones(4))
    obs = simulate_net(
        net, incumbent(net), demand, MesoParams(), Horizon(0.0, 3600.0, 900.0),
        np.random.SeedSequence(1),
    )  # fmt: skip
    counts = obs.detectors.groupby("link")["count"].sum()
    assert 500 < counts["J2>E"] < 700 and 100 < counts["J1>N1"] < 200
    assert counts.get("J1>S1", 0) == 0  # nobody was routed south
    # each signal red for half of its 90 s cycle costs an arrival about 11 s on average
    # (C (1 - g/C)^2 / 2): the main street's vehicles cross two signals, the side's one
    veh = obs.vehicles
    side, main = (veh[veh.origin == o].delay_s.mean() for o in ("S1>J1", "W>J1"))
    assert 8 < side < 30 and main > side + 8
