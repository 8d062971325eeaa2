"""Signal plans for any network: retimed greens and offsets, applied the same way in both worlds."""

from __future__ import annotations

from dataclasses import replace

import pytest

from parallel.traffic.network import read_net
from parallel.traffic.timing import (
    MIN_GREEN_S,
    TimingPlan,
    design,
    incumbent,
    move_green,
    phases,
    scale_cycle,
    shift_offsets,
    tls_xml,
)
from tests.conftest import ROOT

pytest.importorskip("sumolib")
NET = ROOT / "scenarios" / "data" / "resco" / "cologne8" / "cologne8.net.xml"


def test_incumbent_is_the_network_s_own_programs() -> None:
    net = read_net(NET)
    plan = incumbent(net)
    for tls, prog in net.programs.items():
        assert [p.duration_s for p in phases(prog, plan.programs[tls])] == [
            p.duration_s for p in prog.phases
        ]
        assert plan.cycle_s(net, tls) == prog.cycle_s


def test_retimings_change_what_they_say_and_nothing_else() -> None:
    net = read_net(NET)
    base = incumbent(net)
    longer = scale_cycle(base, net, 1.4, "x1.4")
    moved = move_green(base, 6.0, "move")
    shifted = shift_offsets(base, net, 10.0, "offsets")
    for tls, prog in net.programs.items():
        c = prog.cycle_s
        assert longer.cycle_s(net, tls) == pytest.approx(1.4 * c, abs=0.5 * len(prog.phases))
        assert moved.cycle_s(net, tls) == pytest.approx(c, abs=0.2)
        assert min(moved.programs[tls].greens) >= MIN_GREEN_S
        assert shifted.programs[tls].greens == base.programs[tls].greens
        # amber and all-red keep their durations under every retiming
        for plan in (longer, moved):
            fixed = [p.duration_s for p in phases(prog, plan.programs[tls]) if not p.is_green]
            assert fixed == [p.duration_s for p in prog.phases if not p.is_green]
    assert TimingPlan.from_json(longer.to_json()) == longer


def test_design_and_sumo_programs() -> None:
    import defusedxml.ElementTree as DET

    net = read_net(NET)
    plans = design(net, 10)
    assert len(plans) == 10 and len({p.label for p in plans}) == 10
    assert plans[0].programs == incumbent(net).programs
    root = DET.fromstring("<additional>" + tls_xml(net, plans[1]) + "</additional>")
    logics = root.findall("tlLogic")
    assert {el.get("id") for el in logics} == set(net.programs)
    first = next(el for el in logics if el.get("id") == sorted(net.programs)[0])
    durations = [float(p.get("duration")) for p in first.findall("phase")]
    assert sum(durations) == pytest.approx(plans[1].cycle_s(net, first.get("id")), abs=0.05)


def test_a_cycle_split_offset_plan_maps_onto_any_network_s_programs() -> None:
    from parallel.traffic.synthetic import arterial
    from parallel.traffic.timing import split_plan, split_programs, with_plan
    from parallel.traffic.topology import NetworkConfig

    net = arterial(NetworkConfig(intersections=3, main_lanes=2))
    net = replace(net, programs=split_programs(net, lost_time_s=4.0))
    plan = split_plan(
        net, cycle_s=60.0, splits=(0.7, 0.3), offset_s=25.0, lost_time_s=4.0, label="C60"
    )
    # greens share the cycle less two lost times; junctions west to east step the offset
    assert plan.programs["J1"].greens == pytest.approx((36.4, 15.6))
    assert [plan.programs[j].offset_s for j in ("J1", "J2", "J3")] == [0.0, 25.0, 50.0]
    assert all(plan.cycle_s(net, t) == pytest.approx(60.0) for t in net.programs)
    # main street first: an east-west approach's links are green, the side street's red
    main = with_plan(net, plan).programs["J1"].phases[0]
    w, n = net.edge_index["W>J1"], net.edge_index["N1>J1"]
    states = {
        net.movements[m].direction: {main.state[i] for i in net.movements[m].link_indices}
        for m in net.out_movements[w]
    }
    assert states == {"s": {"G"}, "r": {"G"}, "l": {"g"}}
    assert all(
        main.state[i] == "r" for m in net.out_movements[n] for i in net.movements[m].link_indices
    )
    # amber 3 s then 1 s all-red after each green; SUMO gets the same program
    assert [p.duration_s for p in with_plan(net, plan).programs["J1"].phases] == pytest.approx(
        [36.4, 3.0, 1.0, 15.6, 3.0, 1.0]
    )
    assert tls_xml(net, plan).count("<tlLogic") == 3
