"""The fidelity figures computed from observations (the end-to-end run is in test_city.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from parallel.traffic.fidelity import TIME_LOSS_EDGES, edge_time_loss, time_loss_by_edge
from parallel.traffic.network import read_net
from parallel.traffic.observation import DETECTOR_SCHEMA, Observation
from tests.conftest import ROOT

pytest.importorskip("sumolib")
NET = read_net(ROOT / "scenarios" / "data" / "resco" / "cologne8" / "cologne8.net.xml")


def _det(rows: list[tuple[str, float, int, float]]) -> pd.DataFrame:
    return (
        pd.DataFrame(rows, columns=["link", "interval_start_s", "count", "mean_speed_kmh"])
        .assign(queue_veh=0.0)
        .astype(DETECTOR_SCHEMA)
    )


def test_time_lost_on_an_edge_is_counted_against_its_speed_limit() -> None:
    a, b = NET.edges[0], NET.edges[1]
    half = 3.6 * a.speed_mps / 2  # half the limit: each vehicle takes twice the free time
    det = _det(
        [
            (a.id, 0.0, 10, half),
            (a.id, 900.0, 4, 3.6 * a.speed_mps),  # at the limit: nothing lost
            (b.id, 0.0, 0, float("nan")),  # nobody left the edge
            (b.id, 900.0, 2, 3.6 * b.speed_mps / 4),
            ("not-an-edge", 0.0, 99, 1.0),
        ]
    )
    lost = edge_time_loss(det, NET)
    assert set(lost.index) == {a.id, b.id}
    assert lost[a.id] == pytest.approx(10 * a.length_m / a.speed_mps)
    assert lost[b.id] == pytest.approx(2 * 3 * b.length_m / b.speed_mps)


def test_time_loss_by_edge_lists_sumos_worst_edges_for_every_world() -> None:
    edges = NET.edges[: TIME_LOSS_EDGES + 3]

    def obs(lost_s: dict[str, float]) -> Observation:
        """5 vehicles leave each edge, each losing ``lost_s`` seconds (0 if unnamed)."""
        rows = [
            (e.id, 0.0, 5, 3.6 * e.length_m / (e.length_m / e.speed_mps + lost_s.get(e.id, 0.0)))
            for e in edges
        ]
        return Observation(pd.DataFrame(), _det(rows), {}, {})

    # SUMO loses more time on each later edge; the twin only on the first, more in one run
    sumo = {e.id: 10.0 * k for k, e in enumerate(edges)}
    runs = {
        ("actual", 0): [obs(sumo)],
        ("artificial", 0): [obs({edges[0].id: 20.0}), obs({edges[0].id: 40.0})],
    }
    r = time_loss_by_edge(runs, ["actual", "artificial"], NET, hours=0.5)
    assert [row["edge"] for row in r["edges"]] == [e.id for e in edges[::-1][:TIME_LOSS_EDGES]]
    # vehicle-hours per simulated hour: 5 vehicles x seconds lost / 3600 / 0.5 h
    assert r["total"]["actual"] == pytest.approx(5 * sum(sumo.values()) / 1800)
    assert r["total"]["artificial"] == pytest.approx(5 * 30.0 / 1800)
    assert r["edges"][0]["actual"] == pytest.approx(5 * 10.0 * (len(edges) - 1) / 1800)
    # the twin's one slow edge is not among SUMO's worst, so it shows as nothing there
    assert all(abs(row["artificial"]) < 1e-9 for row in r["edges"])
    assert r["located_share"]["artificial"] == pytest.approx(0.0, abs=1e-9)
    assert set(r["located_share"]) == {"artificial"}
    # ... but it is the twin's surplus: 30 s a vehicle on average where SUMO loses none
    assert r["surplus"]["artificial"] == [
        {
            "edge": edges[0].id,
            "world": pytest.approx(5 * 30.0 / 1800),
            "actual": pytest.approx(0.0, abs=1e-9),
        }
    ]
    # a world that loses SUMO's time on the same edges, and more on one, locates all of it
    runs[("artificial", 0)] = [obs({**sumo, edges[-1].id: 1000.0})]
    again = time_loss_by_edge(runs, ["actual", "artificial"], NET, hours=0.5)
    assert again["located_share"]["artificial"] == pytest.approx(1.0)
    # half of SUMO's loss on every edge: half of it located
    runs[("artificial", 0)] = [obs({k: v / 2 for k, v in sumo.items()})]
    half = time_loss_by_edge(runs, ["actual", "artificial"], NET, hours=0.5)
    assert half["located_share"]["artificial"] == pytest.approx(0.5)
    assert half["surplus"]["artificial"] == []  # never more than SUMO: no surplus
