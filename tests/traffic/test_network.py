"""One network model from any SUMO .net.xml (real cities and netgenerate grids alike)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from parallel.core.errors import UserInputError
from parallel.traffic.network import NetworkFileError, read_net, require_signals
from tests.conftest import ROOT

RESCO = ROOT / "scenarios" / "data" / "resco"
sumolib = pytest.importorskip("sumolib")


def test_cologne8_as_provenance_describes_it() -> None:
    net = read_net(RESCO / "cologne8" / "cologne8.net.xml")
    assert len(net.edges) == 149 and sum(e.lanes for e in net.edges) == 157
    assert len(net.programs) == 8
    assert {len(p.phases) for p in net.programs.values()} <= set(range(4, 9))
    states = {c for p in net.programs.values() for ph in p.phases for c in ph.state}
    assert {"G", "g", "y", "r"} <= states  # protected, permissive, amber
    # every signalised movement names link indices that its program's states cover
    for m in net.movements:
        if m.tls is not None:
            n = len(net.programs[m.tls].phases[0].state)
            assert m.link_indices and max(m.link_indices) < n
    # unsignalised junctions give priorities; some movements yield to others
    assert {"M", "m"} <= {m.state for m in net.movements}
    assert any(m.yields_to for m in net.movements if m.tls is None)
    g = net.graph
    assert g.number_of_edges() == 149 and g.has_edge(
        net.edges[0].from_node, net.edges[0].to_node, key=net.edges[0].id
    )


def test_lane_connections_say_which_lane_a_vehicle_arrives_on() -> None:
    net = read_net(RESCO / "ingolstadt7" / "ingolstadt7.net.xml")
    by_id = {(net.edges[m.from_edge].id, net.edges[m.to_edge].id): m for m in net.movements}
    # a five-lane approach whose two left lanes run on, lane by lane, into a 10.7 m edge
    assert by_id[("104012170", "104010460#1")].lane_pairs == ((3, 1), (4, 2))
    # one lane fanning out over three (a lane that widens at the junction)
    assert by_id[("104010475#0", "104012170")].lane_pairs == ((1, 1), (2, 2), (2, 3), (2, 4))
    for m in net.movements:  # the pairs' upstream lanes are the movement's lanes
        assert {f for f, _ in m.lane_pairs} == set(m.from_lanes)
        assert all(t in net.edges[m.to_edge].lane_indices for _, t in m.lane_pairs)


def test_junction_internal_lanes_are_read_as_storage() -> None:
    net = read_net(RESCO / "ingolstadt7" / "ingolstadt7.net.xml")
    by_id = {(net.edges[m.from_edge].id, net.edges[m.to_edge].id): m for m in net.movements}
    # the 10.7 m edge behind a 14-node cluster junction: SUMO's vehicles also stand on
    # the 47.7 m internal lanes that lead into it
    m = by_id[("104012170", "104010460#1")]
    assert m.internal_m == (47.68, 47.68) and net.edges[m.to_edge].length_m < 11
    sumo_net = sumolib.net.readNet(str(net.file), withInternal=True)
    for m in net.movements:  # one length per lane pair, each that of SUMO's via lanes
        assert len(m.internal_m) == len(m.lane_pairs)
        a, b = net.edges[m.from_edge].id, net.edges[m.to_edge].id
        for (f, t), length in zip(m.lane_pairs, m.internal_m):
            conn = next(
                c
                for c in sumo_net.getEdge(a).getOutgoing()[sumo_net.getEdge(b)]
                if c.getFromLane().getIndex() == f and c.getToLane().getIndex() == t
            )
            via = conn.getViaLaneID()
            assert length >= (sumo_net.getLane(via).getLength() if via else 0.0) - 1e-9


def test_a_netgenerate_grid_goes_the_same_path(tmp_path: Path) -> None:
    out = tmp_path / "grid.net.xml"
    subprocess.run(
        [sumolib.checkBinary("netgenerate"), "--grid", "--grid.number=3", "--tls.set=B1",
         "--no-turnarounds", "-o", str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    net = read_net(out)
    assert list(net.programs) == ["B1"]
    assert all(m.tls == "B1" for m in net.movements if m.node == "B1")
    assert {m.direction for m in net.movements if m.node == "B1"} >= {"s", "l", "r"}


def test_not_a_network(tmp_path: Path) -> None:
    bad = tmp_path / "trips.xml"
    bad.write_text("<routes><trip id='a' depart='0' from='x' to='y'/></routes>")
    with pytest.raises(NetworkFileError, match=r"trips\.xml: not a SUMO network.*<routes>"):
        read_net(bad)
    with pytest.raises(NetworkFileError, match="not found"):
        read_net(tmp_path / "missing.net.xml")
    broken = tmp_path / "broken.net.xml"
    broken.write_text("<net><edge id='a'></net>")
    with pytest.raises(NetworkFileError, match="not well-formed"):
        read_net(broken)


def test_entities_are_refused_before_parsing(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.net.xml"
    bomb.write_text(
        '<?xml version="1.0"?><!DOCTYPE net [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><net>&b;</net>'
    )
    with pytest.raises(NetworkFileError, match="declares entities"):
        read_net(bomb)


def test_a_network_without_signals_where_signals_are_needed(tmp_path: Path) -> None:
    out = tmp_path / "plain.net.xml"
    subprocess.run(
        [sumolib.checkBinary("netgenerate"), "--grid", "--grid.number=2", "-o", str(out)],
        check=True,
        capture_output=True,
    )
    net = read_net(out)
    with pytest.raises(UserInputError, match=r"plain\.net\.xml: the network has no traffic lights"):
        require_signals(net, "scenario x.yaml")


def test_routes_are_checked_edge_by_edge() -> None:
    net = read_net(RESCO / "cologne1" / "cologne1.net.xml")
    with pytest.raises(UserInputError, match="edge 'nope' is not in the network"):
        net.route_ids(["nope"], "probe row 3")
    a = net.movements[0]
    assert net.route_ids([net.edges[a.from_edge].id, net.edges[a.to_edge].id], "x") == [
        a.from_edge,
        a.to_edge,
    ]
