"""Designs, common random numbers, statistics, and identical results on every executor."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from parallel.core.errors import RegistryError
from parallel.core.executors import make_executor
from parallel.traffic.experiments import design, run_design, seed_for, summarise
from parallel.traffic.run import run_scenario
from parallel.traffic.scenario import ExperimentsConfig, Plan, load


def test_seeds_are_shared_across_cells_and_distinct_across_reps() -> None:
    a, b = seed_for(1, 0, 3), seed_for(1, 0, 3)
    assert a.generate_state(4).tolist() == b.generate_state(4).tolist()
    assert seed_for(1, 0, 4).generate_state(4).tolist() != a.generate_state(4).tolist()


def test_factorial_and_lhs_designs(tiny) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    fac = design(
        ExperimentsConfig(factors={"cycle_s": [60, 90], "split_main": [0.5, 0.6, 0.7]}),
        tiny.control.initial,
        tiny.control,
        rng,
    )
    assert len(fac) == 6 and all(isinstance(p, Plan) for p in fac)
    lhs = design(
        ExperimentsConfig(
            design="lhs", factors={"cycle_s": [60, 120], "split_main": [0.4, 0.7]}, samples=10
        ),
        tiny.control.initial,
        tiny.control,
        rng,
    )
    assert len(lhs) == 10
    cycles = sorted(p.cycle_s for p in lhs)
    # one point per stratum of width 6 s
    assert all(60 + 6 * i <= c <= 60 + 6 * (i + 1) for i, c in enumerate(cycles))


def test_summary_statistics_and_paired_differences(tiny_spec, tiny_params) -> None:  # type: ignore[no-untyped-def]
    plans = [Plan(cycle_s=80, splits=(0.5, 0.5)), Plan(cycle_s=80, splits=(0.65, 0.35))]
    ex = make_executor("sequential")
    runs = run_design(tiny_spec, tiny_params, plans, 4, 3, 0, ex, 2)
    assert len(runs) == 8 and list(runs.cell) == [0, 0, 0, 0, 1, 1, 1, 1]
    table = summarise(runs, plans, 0, "mean_delay_s")
    inc = table[table.incumbent].iloc[0]
    assert inc["diff_vs_incumbent"] == 0
    other = table[~table.incumbent].iloc[0]
    d = (
        runs[runs.cell == 1]["mean_delay_s"].to_numpy()
        - runs[runs.cell == 0]["mean_delay_s"].to_numpy()
    )
    assert other["diff_vs_incumbent"] == pytest.approx(d.mean())
    assert other["mean_delay_s_lo"] < other["mean_delay_s"] < other["mean_delay_s_hi"]
    # common random numbers: a cell that repeats the incumbent draws the very same numbers,
    # so its paired difference is exactly zero while each cell's own CI is not. (The
    # correlation between two *different* plans is weak in this world, 0.3-0.4, so a
    # comparison of interval widths there would depend on the seed.)
    twin = run_design(tiny_spec, tiny_params, [plans[0], plans[0]], 4, 3, 0, ex, 2)
    same = summarise(twin, [plans[0], plans[0]], 0, "mean_delay_s")
    rep = same[~same.incumbent].iloc[0]
    assert rep["diff_lo"] == rep["diff_hi"] == 0
    assert rep["mean_delay_s_hi"] - rep["mean_delay_s_lo"] > 0.1


def test_unknown_executor_name() -> None:
    with pytest.raises(RegistryError, match="valid names are: dask, process, sequential"):
        make_executor("spark")


def _strip(summary: dict) -> dict:
    out = dict(summary)
    out.pop("executor")
    out.pop("timings")
    return out


@pytest.mark.slow
def test_same_seed_same_summary_on_every_executor(tiny_path: Path, tmp_path: Path) -> None:
    sc = load(tiny_path, {"loop.rounds": 1})
    summaries = {}
    for kind in ("sequential", "process", "dask"):
        folder, summary = run_scenario(sc, tmp_path / kind, kind, 2)
        on_disk = json.loads((folder.root / "summary.json").read_text())
        assert on_disk["executor"] == kind
        summaries[kind] = _strip(on_disk)
    assert summaries["sequential"] == summaries["process"] == summaries["dask"]
    assert summaries["sequential"]["rounds"][0]["actual_kpis"]["throughput_veh_h"] > 0


@pytest.mark.slow
def test_dask_executor_with_a_scheduler_address(tiny_spec, tiny_params) -> None:  # type: ignore[no-untyped-def]
    from dask.distributed import LocalCluster

    plans = [Plan(cycle_s=80, splits=(0.5, 0.5))]
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        ex = make_executor("dask", address=cluster.scheduler_address)
        try:
            via_dask = run_design(tiny_spec, tiny_params, plans, 3, 1, 0, ex, 1)
        finally:
            ex.close()
    local = run_design(tiny_spec, tiny_params, plans, 3, 1, 0, make_executor("sequential"), 1)
    pd.testing.assert_frame_equal(via_dask, local)
