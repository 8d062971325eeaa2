"""Control policies: the registry, Webster against SUMO's own tool, max-pressure's rule, the
deadlock guard, and every policy running in both worlds."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from parallel.traffic.artificial.meso import simulate_net
from parallel.traffic.artificial.params import Horizon, MesoParams
from parallel.traffic.control import (
    ControlError,
    MaxPressure,
    amber,
    check_control,
    make_control,
    settings,
)
from parallel.traffic.demand import RouteDemand
from parallel.traffic.network import read_net
from parallel.traffic.timing import ProgramTiming, incumbent, tls_xml
from tests.conftest import ROOT, run_cli

pytest.importorskip("sumolib")
C1 = ROOT / "scenarios" / "data" / "resco" / "cologne1"


@pytest.fixture(scope="module")
def net():  # type: ignore[no-untyped-def]
    return read_net(C1 / "cologne1.net.xml")


def _flows(net) -> np.ndarray:  # type: ignore[no-untyped-def]
    """A different flow on every signalised movement (veh/h)."""
    f = np.zeros(len(net.movements))
    for k, m in enumerate(net.movements):
        if m.tls and m.link_indices:
            f[m.index] = 40.0 + 37.0 * (k % 7)
    return f


def test_unknown_policy_and_parameter_list_the_valid_ones() -> None:
    with pytest.raises(ControlError, match="valid names are: actuated, fixed, max_pressure"):
        settings("maxpressure")
    with pytest.raises(ControlError, match="its parameters are: max_gap_s, max_green_s"):
        settings("actuated", {"gap": 3.0})
    with pytest.raises(ControlError, match=r"min_green_s=0.1 is out of range; use a value in"):
        settings("max_pressure", {"min_green_s": 0.1})
    with pytest.raises(ControlError, match="max_green_s=10 is below min_green_s=20"):
        settings("actuated", {"min_green_s": 20, "max_green_s": 10})
    assert dict(settings("max_pressure", {"step_s": 2}))["step_s"] == 2.0


def test_webster_matches_sumo_tlsCycleAdaptation(net, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The same flows, as a route file for SUMO's tool and as movement flows for ours."""
    import sumo

    flows = _flows(net)
    vehicles = []
    for m in net.movements:
        n = int(flows[m.index])
        edges = f"{net.edges[m.from_edge].id} {net.edges[m.to_edge].id}"
        vehicles += [(3600.0 * i / max(n, 1), edges) for i in range(n)]
    vehicles.sort()
    body = "".join(
        f'  <vehicle id="v{i}" depart="{t:.2f}"><route edges="{e}"/></vehicle>\n'
        for i, (t, e) in enumerate(vehicles)
    )
    (tmp_path / "r.rou.xml").write_text(f"<routes>\n{body}</routes>\n")
    tool = Path(sumo.SUMO_HOME) / "tools" / "tlsCycleAdaptation.py"
    res = subprocess.run(
        [sys.executable, str(tool), "-n", str(C1 / "cologne1.net.xml"), "-r", "r.rou.xml",
         "-b", "0", "-g", "4", "-o", "web.add.xml"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    import defusedxml.ElementTree as DET

    theirs = {
        el.get("id"): [float(p.get("duration")) for p in el.findall("phase")]
        for el in DET.parse(str(tmp_path / "web.add.xml")).getroot().findall("tlLogic")
    }
    ours = make_control(net, policy="webster", flows=flows, params={"min_green_s": 4.0})
    assert set(theirs) == set(ours.programs)
    for tls, durations in theirs.items():
        prog = net.programs[tls]
        mine = ours.programs[tls].greens
        # the tool retimes the phases with a major green; compare those greens exactly
        major = [i for i, k in enumerate(prog.green_phases) if "G" in prog.phases[k].state]
        assert major
        assert [mine[i] for i in major] == [durations[prog.green_phases[i]] for i in major]
        assert mine != incumbent(net).programs[tls].greens  # it did retime


def test_max_pressure_runs_the_green_with_the_largest_pressure() -> None:
    states = ["GGrr", "yyrr", "rrGG", "rryy"]
    groups = [(0, [(["a"], ["x"])]), (2, [(["b", "c"], ["y"])])]
    st = {"min_green_s": 10.0, "step_s": 5.0, "yellow_s": 3.0}
    ctl = MaxPressure(states, groups, st)
    assert ctl.start() == ("GGrr", 10.0)
    queues = {"a": 4.0, "x": 0.0, "b": 2.0, "c": 2.0, "y": 0.0}
    # phase 0: (4 - 0) x 1 lane = 4; phase 2: (2 - 0) x 2 lanes = 4: a tie keeps the green
    assert ctl.step(queues.__getitem__) == ("GGrr", 5.0)
    queues["c"] = 6.0  # phase 2: (4 - 0) x 2 = 8
    assert ctl.step(queues.__getitem__) == ("yyrr", 3.0)  # amber first
    assert ctl.step(queues.__getitem__) == ("rrGG", 10.0)  # then the chosen green, held
    queues["y"] = 20.0  # its exit is full: pressure (4 - 20) x 2 < 4
    assert ctl.step(queues.__getitem__) == ("rryy", 3.0)
    assert amber("GgrG", "rGGr") == "ygry"  # a link that stays green keeps its colour


def test_a_control_that_would_deadlock_is_refused(net) -> None:  # type: ignore[no-untyped-def]
    own = incumbent(net)
    check_control(net, own)  # the network's own programs serve every movement
    tls, t = next(iter(own.programs.items()))
    prog = net.programs[tls]

    # a green phase whose links are green nowhere else: without it, they never go
    def alone(k: int) -> list[int]:
        others = [prog.phases[j].state for j in prog.green_phases if j != k]
        return [
            x for x, c in enumerate(prog.phases[k].state)
            if c in "Gg" and all(s[x] not in "Gg" for s in others)
        ]  # fmt: skip

    i = next(i for i, k in enumerate(prog.green_phases) if alone(k))
    only = alone(prog.green_phases[i])
    greens = list(t.greens)
    greens[i] = 0.0
    bad = replace(own, label="zero green", programs={tls: ProgramTiming(tuple(greens), 0.0)})
    with pytest.raises(ControlError, match="would deadlock traffic light .* never gets green"):
        check_control(net, bad)
    # with flows that give those movements no demand, the same plan is allowed
    flows = np.ones(len(net.movements))
    for m in net.movements:
        if m.tls == tls and set(m.link_indices) & set(only):
            flows[m.index] = 0.0
    check_control(net, bad, flows)
    # max-pressure may run any phase, so it deadlocks nothing
    check_control(net, replace(bad, policy="max_pressure", params=settings("max_pressure")))


def test_actuated_is_sumo_s_own_program(net) -> None:  # type: ignore[no-untyped-def]
    plan = make_control(net, policy="actuated", params={"min_green_s": 6, "max_green_s": 40})
    xml = tls_xml(net, plan)
    assert 'type="actuated"' in xml and 'minDur="6.00" maxDur="40.00"' in xml
    assert '<param key="max-gap" value="3.00"/>' in xml
    assert 'type="static"' in tls_xml(net, incumbent(net))


@pytest.mark.parametrize("policy", ["fixed", "webster", "actuated", "max_pressure"])
def test_every_policy_runs_in_the_artificial_world(net, policy: str) -> None:  # type: ignore[no-untyped-def]
    flows = _flows(net)
    # two-edge routes through the junction, one per signalised movement
    routes = tuple((m.from_edge, m.to_edge) for m in net.movements if flows[m.index] > 0)
    demand = RouteDemand(routes, np.array([flows[net.movement(*r)] for r in routes]), np.ones(4))
    plan = make_control(net, policy=policy, flows=flows)
    hour = Horizon(0.0, 3600.0, 900.0)
    obs = simulate_net(net, plan, demand, MesoParams(), hour, np.random.SeedSequence(5))
    again = simulate_net(net, plan, demand, MesoParams(), hour, np.random.SeedSequence(5))
    assert len(obs.vehicles) > 0.8 * flows.sum() * 0.9  # the hour's demand got through
    assert obs.kpis["mean_delay_s"] == again.kpis["mean_delay_s"]  # same seed, same numbers


def test_max_pressure_and_actuated_run_in_sumo(net, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Max-pressure through libsumo in its own process, actuated as SUMO's own program; the
    observations have the same shape as a fixed-time run's, and the controls differ."""
    from parallel.traffic.actual.sumo_net import SumoNetWorld, read_sumocfg

    world = SumoNetWorld(read_sumocfg(C1 / "cologne1.sumocfg"), 900.0, 0.1, tmp_path)
    seed = np.random.SeedSequence(3)
    delay = {}
    for policy in ("fixed", "actuated", "max_pressure"):
        obs = world.observe(make_control(net, policy=policy), seed, tmp_path / policy)
        assert len(obs.vehicles) > 500 and obs.probes is not None and len(obs.probes) > 0
        delay[policy] = obs.kpis["mean_delay_s"]
    assert (tmp_path / "max_pressure" / "control.json").is_file()
    assert len(set(delay.values())) == 3, delay


def test_a_network_s_own_actuated_programs_are_its_incumbent(tmp_path: Path) -> None:
    """A city whose lights the network file actuates is judged under that control in both
    worlds: the incumbent is SUMO's own actuated program (each green between its own
    minDur and maxDur), not a fixed-time copy of it; a static network's stays fixed."""
    from parallel.traffic.actual.sumo_net import SumoNetWorld, read_sumocfg

    shutil.copytree(C1, tmp_path / "c1")
    netfile = tmp_path / "c1" / "cologne1.net.xml"
    netfile.write_text(netfile.read_text().replace('type="static"', 'type="actuated"'))
    net = read_net(netfile)
    plan = incumbent(net)
    assert (plan.policy, plan.params) == ("actuated", ())
    assert incumbent(read_net(C1 / "cologne1.net.xml")).policy == "fixed"
    xml = tls_xml(net, plan)
    assert 'type="actuated"' in xml and 'minDur="5.00" maxDur="50.00"' in xml
    assert '<param key="max-gap" value="3.00"/>' in xml
    fixed = replace(plan, policy="fixed", label="fixed copy")
    assert 'type="static"' in tls_xml(net, fixed)

    # the twin: demand on one approach only, so an actuated light cuts the idle greens
    mv = next(m for m in net.movements if m.tls and m.direction == "s")
    demand = RouteDemand(((mv.from_edge, mv.to_edge),), np.array([400.0]), np.ones(4))
    hour = Horizon(0.0, 3600.0, 900.0)
    seed = np.random.SeedSequence(2)
    own = simulate_net(net, plan, demand, MesoParams(), hour, seed)
    static = simulate_net(net, fixed, demand, MesoParams(), hour, seed)
    assert own.kpis["mean_delay_s"] < 0.85 * static.kpis["mean_delay_s"]

    # SUMO runs the network's own actuated program, not the fixed copy
    world = SumoNetWorld(read_sumocfg(tmp_path / "c1" / "cologne1.sumocfg"), 900.0, 0.1, tmp_path)
    a = world.observe(plan, seed, tmp_path / "own")
    b = world.observe(fixed, seed, tmp_path / "fixed")
    assert 'type="actuated"' in (tmp_path / "own" / "plan.add.xml").read_text()
    assert a.kpis["mean_delay_s"] != b.kpis["mean_delay_s"]

    # `validate` says what the lights run, and names a type that runs as a fixed copy
    scenario = tmp_path / "c1.yaml"
    scenario.write_text("name: c1\nsumo: {config: c1/cologne1.sumocfg}\n")
    res = run_cli("validate", str(scenario))
    assert res.returncode == 0 and "(1 actuated)" in res.stdout and "note:" not in res.stdout
    netfile.write_text(netfile.read_text().replace('type="actuated"', 'type="delay_based"'))
    res = run_cli("validate", str(scenario))
    assert (
        "(1 delay_based)" in res.stdout and "delay_based run in both worlds as fixed" in res.stdout
    )


def test_actuated_detectors_are_the_lanes_sumo_would_use(net) -> None:  # type: ignore[no-untyped-def]
    """A lane's detector extends a green only if every link from the lane may go in it
    (SUMO's rule): a lane shared with a movement the phase holds at red is left out,
    which the phase's own movements' lanes are not."""
    from parallel.traffic.control import detector_lanes, phase_lanes

    tls = next(iter(net.programs))
    state = {k: net.programs[tls].phases[k].state for k in net.programs[tls].green_phases}
    chosen = detector_lanes(net, tls)
    every = {g.phase: set(g.incoming) for g in phase_lanes(net, tls)}

    def links(x: tuple[int, int]) -> set[int]:
        return {i for m in net.movements
                if m.tls == tls and m.from_edge == x[0] and x[1] in m.from_lanes
                for i in m.link_indices}  # fmt: skip

    left_out = 0
    for k, lanes in chosen.items():
        assert set(lanes) <= every[k]
        for x in lanes:  # a chosen lane's links all go in phase k
            assert all(state[k][i] in "Gg" for i in links(x))
        for x in every[k] - set(lanes):
            # some link from a left-out lane is red, or an unprotected minor, in phase k
            assert any(state[k][i] != "G" for i in links(x))
            left_out += 1
    assert left_out > 0  # cologne1 shares lanes between its phases' movements
