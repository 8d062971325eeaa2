"""The act verb on a real network: what was measured outranks what is predicted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from parallel.traffic.cityact import act, revert_to
from parallel.traffic.control import make_control
from parallel.traffic.network import read_net
from parallel.traffic.scenario import KPI_NAMES
from parallel.traffic.timing import TimingPlan, incumbent
from tests.conftest import ROOT

pytest.importorskip("sumolib")
NET = read_net(ROOT / "scenarios" / "data" / "resco" / "cologne1" / "cologne1.net.xml")


def _twin_prefers_max_pressure(plans: list[TimingPlan]) -> pd.DataFrame:
    """A twin that predicts max-pressure at 18 s and everything else at 20-21 s."""
    rows = []
    for c, p in enumerate(plans):
        for rep in range(4):
            delay = (18.0 if p.policy == "max_pressure" else 20.0 + 0.1 * c) + 0.01 * rep
            rows.append(
                {"cell": c, "rep": rep, **dict.fromkeys(KPI_NAMES, 1.0), "mean_delay_s": delay}
            )
    return pd.DataFrame(rows)


def _act(base: TimingPlan, measured: list[tuple[TimingPlan, float]]) -> tuple[TimingPlan, dict]:
    routes = [(m.from_edge, m.to_edge) for m in NET.movements if m.tls][:4]
    return act(
        NET, base, _twin_prefers_max_pressure,
        policies=[("max_pressure", {})], routes=routes, rates=np.full(len(routes), 100.0),
        n_retimings=0, trials=0, seed=1, rnd=1, measured_in_force=measured[-1][1],
        errors=[0.05], tolerance=0.10, min_margin=0.05, measured=measured,
    )  # fmt: skip


def test_revert_to_the_best_measured_only_beyond_the_tolerance() -> None:
    a, b = incumbent(NET), make_control(NET, policy="max_pressure")
    assert revert_to([(a, 19.4), (b, 22.7)], 22.7, 0.10) is a  # 17% worse: go back
    assert revert_to([(a, 19.4), (b, 21.0)], 21.0, 0.10) is None  # within the tolerance
    assert revert_to([], 30.0, 0.10) is None


def test_a_control_measured_worse_than_the_tolerance_is_left_for_the_best_measured() -> None:
    own = incumbent(NET)
    mp = make_control(NET, policy="max_pressure")
    # explored max-pressure measured 17% worse than the incumbent: back to the incumbent,
    # though the twin still predicts max-pressure best
    chosen, record = _act(mp, [(own, 19.4), (mp, 22.7)])
    assert chosen.label == own.label and record["trust"]["reverted_to"] == own.label
    assert record["trust"]["best_predicted"] == mp.label
    # within the tolerance, the twin's choice stands (here: keep max-pressure in force)
    chosen, record = _act(mp, [(own, 19.4), (mp, 20.5)])
    assert chosen.policy == "max_pressure" and record["trust"]["reverted_to"] is None
    # the controls SUMO ran before are candidates again (the incumbent is in the table)
    labels = [row["plan"] for row in record["experiments"]["table"]]
    assert own.label in labels
