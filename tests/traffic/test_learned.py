"""Learned behaviours: conditional generators in the SimPy world, batched, seeded, and
judged against the parametric models on held-out data."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from parallel.traffic.artificial.behaviours import ARRIVAL_MODELS
from parallel.traffic.artificial.learned import (
    LearnedBehaviour,
    compare,
    extract,
    path_lengths,
    train,
)
from parallel.traffic.artificial.model import simulate
from parallel.traffic.scenario import Plan
from parallel.traffic.world import Params, WorldSpec
from tests.conftest import TINY, run_cli, write_scenario


def _platoons(n: int, rng: np.random.Generator, origins: list[str]) -> pd.DataFrame:
    """Gaps that are far from exponential: tight platoons (about 2 s) and long lulls (about 25 s)."""
    rows = []
    for o in origins:
        gaps = np.where(rng.random(n) < 0.6, rng.normal(2.0, 0.3, n), rng.normal(25.0, 3.0, n))
        rows.append(pd.DataFrame({"origin": o, "entry_time_s": np.cumsum(np.abs(gaps))}))
    return pd.concat(rows, ignore_index=True)


def test_learned_arrivals_beat_poisson_on_non_poisson_gaps(rng: np.random.Generator) -> None:
    origins = ["W", "E"]
    fit = extract("arrivals", _platoons(1500, rng, origins), {})
    held = extract("arrivals", _platoons(800, rng, origins), {})
    lb = train("arrivals", fit, origins, seed=0, steps=1500)
    poisson = {o: ARRIVAL_MODELS.get("poisson")(1.0) for o in origins}
    cmp = compare("arrivals", lb, poisson, held, seed=1)
    assert cmp["mean"]["learned_ks"] > cmp["mean"]["parametric_ks"] + 0.1, cmp["mean"]
    assert cmp["mean"]["learned_w1"] < cmp["mean"]["parametric_w1"]
    # the learned sampler keeps the mean it is given (the calibrated rate)
    x = lb.sampler("W", 12.0)(np.random.default_rng(2), 50_000)
    assert abs(x.mean() / 12.0 - 1) < 0.05


class _Counting(LearnedBehaviour):
    calls = 0

    def raw(self, origin: str, rng: np.random.Generator, n: int) -> np.ndarray:
        type(self).calls += 1
        return super().raw(origin, rng, n)


def test_world_samples_learned_behaviours_in_batches(
    tiny_spec: WorldSpec, tiny_params: Params
) -> None:
    plan = Plan(cycle_s=80, splits=(0.5, 0.5))
    topo = tiny_spec.topology()
    base = simulate(tiny_spec, tiny_params, plan, np.random.SeedSequence(1))
    veh = base.vehicles
    learned = {}
    for kind in ("arrivals", "speed"):
        data = extract(kind, veh, path_lengths(topo))
        lb = train(kind, data, topo.origins, seed=0, steps=30)
        learned[kind] = _Counting(**lb.__dict__)
    beh = tiny_params.behaviours.model_copy(update={"arrivals": "learned", "speed": "learned"})
    params = replace(tiny_params, behaviours=beh, learned=learned)
    _Counting.calls = 0
    a = simulate(tiny_spec, params, plan, np.random.SeedSequence(7))
    calls = _Counting.calls
    b = simulate(tiny_spec, params, plan, np.random.SeedSequence(7))
    assert len(a.vehicles) > 200
    assert calls <= 2 * len(topo.origins) + 4  # a batch per stream, not a call per vehicle
    pd.testing.assert_frame_equal(a.vehicles, b.vehicles)  # seeded
    assert not a.vehicles.equals(base.vehicles)  # the learned models are in use


def test_scenario_with_learned_behaviours_reports_the_comparison(tmp_path: Path) -> None:
    data = TINY | {
        "loop": {"rounds": 2},
        "artificial": TINY["artificial"]
        | {"behaviours": {"arrivals": "learned", "speed": "learned", "learned_steps": 60}},
    }
    res = run_cli(
        "run", str(write_scenario(tmp_path, data)), "--out", str(tmp_path / "r"), "--quiet"
    )
    assert res.returncode == 0, res.stderr
    run = next((tmp_path / "r" / "tiny").iterdir())
    rounds = json.loads((run / "history.json").read_text())["rounds"]
    assert rounds[0]["behaviours"]["held_out"] == "last 20% of round 1"
    assert rounds[1]["behaviours"]["held_out"] == "round 2"
    for kind in ("arrivals", "speed"):
        m = rounds[1]["behaviours"][kind]["mean"]
        assert 0 < m["learned_ks"] <= 1 and 0 < m["parametric_ks"] <= 1
    assert "Learned against parametric behaviour" in (run / "report.html").read_text()
    assert "Learned against parametric behaviour" in (run / "report.md").read_text()
