"""Computational experiments: designs, replications with common random numbers, statistics.

Every (cell, replication) of round ``rnd`` gets its seed from ``seed_for(root, rnd, rep)``
(the stream ``(EXPERIMENTS, rnd, rep)`` of :mod:`parallel.core.seeds`): the same
replication index gives the same seed in every cell, and each simulation spawns one
child stream per random activity from it, so cells are compared under common random
numbers. Seeds are arguments of the tasks, never derived from worker identity.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.stats import qmc

from parallel.core.executors import Executor
from parallel.core.seeds import Stage, stream
from parallel.traffic.artificial.model import simulate
from parallel.traffic.scenario import (
    KPI_NAMES,
    ControlConfig,
    ExperimentsConfig,
    Plan,
    plan_from_factors,
)
from parallel.traffic.world import Params, WorldSpec


def seed_for(root: int, rnd: int, rep: int) -> np.random.SeedSequence:
    """The seed of replication ``rep`` in round ``rnd``'s experiments (shared by all cells)."""
    return stream(root, Stage.EXPERIMENTS, rnd, rep)


def design(
    cfg: ExperimentsConfig, base: Plan, control: ControlConfig, rng: np.random.Generator
) -> list[Plan]:
    """The design's plans: full factorial over levels, or a Latin hypercube over ranges.

    LHS points whose greens would not fit the cycle are dropped.
    """
    names = list(cfg.factors)
    if cfg.design == "factorial":
        grid = np.array(np.meshgrid(*cfg.factors.values(), indexing="ij")).reshape(len(names), -1).T
    else:
        lo = np.array([cfg.factors[n][0] for n in names])
        hi = np.array([cfg.factors[n][1] for n in names])
        grid = qmc.scale(qmc.LatinHypercube(d=len(names), seed=rng).random(cfg.samples), lo, hi)
        grid = np.round(grid, 2)
    plans: list[Plan] = []
    for row in grid:
        plan = plan_from_factors(base, dict(zip(names, map(float, row))))
        try:
            control.check(plan)
        except ValueError:
            continue
        if plan not in plans:
            plans.append(plan)
    return plans


@dataclass(frozen=True)
class Task:
    """A chunk of replications of one cell (picklable; runs on any executor)."""

    spec: WorldSpec
    params: Params
    plan: Plan
    cell: int
    reps: tuple[int, ...]
    root: int
    rnd: int


def run_task(task: Task) -> list[tuple[int, int, dict[str, float]]]:
    """Run a chunk; returns (cell, rep, kpis) per replication."""
    topo = task.spec.topology()
    out = []
    for rep in task.reps:
        obs = simulate(task.spec, task.params, task.plan, seed_for(task.root, task.rnd, rep), topo)
        out.append((task.cell, rep, obs.kpis))
    return out


def run_design(
    spec: WorldSpec,
    params: Params,
    plans: list[Plan],
    replications: int,
    root: int,
    rnd: int,
    executor: Executor,
    chunk_size: int,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Run every plan ``replications`` times; one row per (cell, rep) with the KPIs."""
    tasks = [
        Task(spec, params, plan, c, tuple(range(r, min(r + chunk_size, replications))), root, rnd)
        for c, plan in enumerate(plans)
        for r in range(0, replications, chunk_size)
    ]
    total = len(tasks)
    results = executor.map(run_task, tasks, (lambda k: progress(k, total)) if progress else None)
    rows = [{"cell": c, "rep": r, **k} for chunk in results for c, r, k in chunk]
    return pd.DataFrame(rows).sort_values(["cell", "rep"], kind="stable").reset_index(drop=True)


def _ci(values: np.ndarray) -> tuple[float, float, float, float]:
    n = len(values)
    mean = float(values.mean())
    sd = float(values.std(ddof=1)) if n > 1 else 0.0
    half = float(stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n)) if n > 1 else float("nan")
    return mean, sd, mean - half, mean + half


def summarise(
    runs: pd.DataFrame, plans: Sequence[Any], incumbent: int, objective: str
) -> pd.DataFrame:
    """Mean, sd and 95% CI per KPI per cell, and paired differences against the incumbent.

    Paired differences use the shared replication seeds (common random numbers): the
    difference is taken replication by replication before averaging.
    """
    rows = []
    inc = runs[runs.cell == incumbent].set_index("rep")
    for c, plan in enumerate(plans):
        sub = runs[runs.cell == c].set_index("rep")
        row: dict[str, object] = {
            "cell": c,
            **plan.describe(),  # a Plan or a TimingPlan: label and factors
            "incumbent": c == incumbent,
            "n": len(sub),
        }
        for k in KPI_NAMES:
            mean, sd, lo, hi = _ci(sub[k].to_numpy(float))
            row.update({f"{k}": mean, f"{k}_sd": sd, f"{k}_lo": lo, f"{k}_hi": hi})
        diff = (sub[objective] - inc[objective]).dropna().to_numpy(float)
        mean, _, lo, hi = _ci(diff)
        row.update({"diff_vs_incumbent": mean, "diff_lo": lo, "diff_hi": hi})
        rows.append(row)
    table = pd.DataFrame(rows)
    ascending = objective != "throughput_veh_h"
    table["rank"] = table[objective].rank(ascending=ascending, method="first").astype(int)
    return table.sort_values("rank", kind="stable").reset_index(drop=True)
