"""Reading SUMO's outputs for the real-network worlds."""

from __future__ import annotations

from pathlib import Path

import pytest

from parallel.core.seeds import Stage, stream
from parallel.traffic.actual.sumo import _setarch
from parallel.traffic.actual.sumo_net import SumoNetWorld, read_sumocfg, read_vehroutes
from parallel.traffic.network import read_net
from parallel.traffic.timing import design
from tests.conftest import ROOT

RESCO = ROOT / "scenarios" / "data" / "resco"

# the shape SUMO 1.28 writes (``--vehroute-output``), from an ingolstadt7 run: the second
# vehicle was routed again when it was inserted
VEHROUTES = """<?xml version="1.0" encoding="UTF-8"?>
<routes>
    <vehicle id="a:1" type="default_016" depart="57600.00" arrival="57700.00">
        <route edges="124812856#0 124812856#1 201956810"/>
    </vehicle>
    <vehicle id="carIn20393:1" type="default_016" depart="59091.00" arrival="59186.00">
        <routeDistribution>
            <route replacedOnEdge="124812856#0" reason="device.rerouting" replacedAtTime="59091.00" probability="0" edges="124812856#0 124812856#1 201956821#0 201956821#1.68 25149219#1 391891458#0"/>
            <route edges="124812856#0 124812856#1 201956821#0 201956821#1.68 201963537#1 104010475#0"/>
        </routeDistribution>
    </vehicle>
</routes>
"""


def test_a_rerouted_vehicle_keeps_the_route_it_drove(tmp_path: Path) -> None:
    path = tmp_path / "vehroutes.xml"
    path.write_text(VEHROUTES)
    routes = read_vehroutes(path)
    assert routes["a:1"] == ["124812856#0", "124812856#1", "201956810"]
    # not dropped (its record was then a one-edge trip on its first edge, and the probe
    # sample taught the twin a route that ends where it starts), nor the replaced route
    assert routes["carIn20393:1"][-2:] == ["201963537#1", "104010475#0"]
    assert len(routes["carIn20393:1"]) == 6


@pytest.mark.slow
def test_sumo_runs_repeat_exactly(tmp_path: Path) -> None:
    """The same plan and seed give the same SUMO output every time: without the fixed
    memory layout (``fixed_layout``), this run of cologne1 came out one way 7 times in 10
    and another way 3 times."""
    pytest.importorskip("sumolib")
    if not _setarch():
        pytest.skip("setarch -R is not available or not allowed here")
    cfg = read_sumocfg(RESCO / "cologne1" / "cologne1.sumocfg")
    net = read_net(cfg.net_file)
    world = SumoNetWorld(cfg, 900.0, 0.1, tmp_path, False, 300.0, net=net)
    plan = design(net, 3)[0]
    outs = set()
    for i in range(12):
        world.observe(plan, stream(2, Stage.FIDELITY, 0, 0, 0), tmp_path / f"r{i}")
        text = (tmp_path / f"r{i}" / "tripinfo.xml").read_text()
        outs.add(text[text.index("<tripinfos") :])  # the header holds the time of the run
    assert len(outs) == 1
