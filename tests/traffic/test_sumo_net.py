"""Reading SUMO's outputs for the real-network worlds."""

from __future__ import annotations

from pathlib import Path

from parallel.traffic.actual.sumo_net import read_vehroutes

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
