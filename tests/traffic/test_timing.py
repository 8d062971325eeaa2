"""Signal plans for any network: retimed greens and offsets, applied the same way in both worlds."""

from __future__ import annotations

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
