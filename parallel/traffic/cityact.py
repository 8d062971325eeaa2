"""The act verb on a real network: computational experiments over control policies.

Each round the twin compares, under common random numbers:

* the control in force;
* every policy the scenario names (``loop.policies``): ``fixed`` contributes re-timings
  of the plan in force (cycles scaled, green moved, offsets shifted), ``webster`` the
  plan computed from the twin's movement flows, ``actuated`` and ``max_pressure`` their
  controllers with the given parameters;
* then an existing optimiser, optuna's TPE sampler, over per-program cycle factors of the
  best fixed-time plan so far (``loop.optimise`` trials).

**Safe exploration.** A twin can be wrong, so the act verb weighs how far it can be
trusted before it lets a control reach the actual system. The trust margin ``e`` is the
largest relative error of the twin's mean delay on the controls already observed in SUMO
(each prediction made before SUMO ran it, in round 1 by the uncalibrated prior, and each
calibrated fit; at least ``min_margin``). A candidate is *safe* when even its pessimistic prediction, the
upper 95% bound of its mean delay times ``1 + e``, is no worse than ``1 + tolerance`` times
the mean delay SUMO measured under the control in force. The chosen control is the safe
candidate with the lowest predicted mean delay whose paired difference against the
control in force is negative with 95% confidence; otherwise the control in force stays.

**What was measured outranks what is predicted.** Every control SUMO has already run is
a candidate again. If the control in force measured worse than ``1 + tolerance`` times
the best control measured so far, exploration went wrong beyond what the safety rule
allowed, and the act verb goes back to that best control (``trust.reverted_to``), whatever
the twin now predicts: the twin that chose the control in force was wrong about it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from parallel.traffic.control import POLICIES, check_control, make_control, movement_flows
from parallel.traffic.experiments import summarise
from parallel.traffic.network import RoadNet
from parallel.traffic.scenario import KPI_NAMES
from parallel.traffic.timing import TimingPlan, design, scale_cycle

OBJECTIVE = "mean_delay_s"
#: runs a list of controls in the twin (every control x every replication, CRN) and
#: returns one row per (cell, rep) with the KPIs
Evaluate = Callable[[list[TimingPlan]], pd.DataFrame]


def candidates(
    net: RoadNet,
    base: TimingPlan,
    policies: list[tuple[str, dict[str, float]]],
    flows: np.ndarray,
    n_retimings: int,
    rnd: int,
    measured: list[TimingPlan] | None = None,
) -> list[TimingPlan]:
    """The control in force first, then what each named policy contributes, then the
    controls SUMO ran before (``measured``)."""
    out = [base]
    fixed_base = base if base.policy == "fixed" else replace(base, policy="fixed", params=())
    for name, params in policies:
        if name == "fixed":
            kept = 0
            for p in design(net, 2 * n_retimings + 1, base=fixed_base)[1:]:
                ratio = p.cycle_ratio(net)
                # retimings compound round after round; a twin calibrated near the
                # network's own cycles extrapolates badly far from them
                if 0.5 <= ratio <= 2.0 and kept < n_retimings:
                    kept += 1
                    out.append(replace(p, label=f"r{rnd + 1}: {p.label} (cycle {ratio:.2f}x own)"))
            continue
        c = make_control(net, policy=name, params=params, base=fixed_base, flows=flows)
        if POLICIES.get(name).adaptive and params:
            c = replace(
                c, label=f"{c.label} ({', '.join(f'{k}={v:g}' for k, v in params.items())})"
            )
        out.append(c)
    out += measured or []
    seen: list[TimingPlan] = []
    for c in out:  # the same control twice would only cost runs
        if not any(_same(c, s) for s in seen):
            check_control(net, c, flows)  # never run, let alone apply, a deadlock
            seen.append(c)
    return seen


def optimise(
    net: RoadNet,
    start: TimingPlan,
    evaluate: Evaluate,
    trials: int,
    seed: int,
    label: str,
) -> list[tuple[TimingPlan, pd.DataFrame]]:
    """optuna's TPE over one cycle factor per program (0.6 to 1.6, greens scaled, amber
    kept) around ``start``; returns every trial's plan and runs."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed % 2**32))
    progs = sorted(start.programs)
    out: list[tuple[TimingPlan, pd.DataFrame]] = []

    def objective(trial: Any) -> float:
        factors = {t: trial.suggest_float(t, 0.6, 1.6) for t in progs}
        plan = scale_cycle(start, net, factors, f"{label} trial {trial.number + 1}")
        runs = evaluate([plan])
        out.append((plan, runs))
        return float(runs[OBJECTIVE].mean())

    study.enqueue_trial({t: 1.0 for t in progs})  # the start itself anchors the search
    study.optimize(objective, n_trials=trials)
    return out


def trust_margin(errors: list[float], floor: float) -> float:
    """The largest |relative error| of the twin's mean delay seen so far (at least
    ``floor``)."""
    return max([floor, *(abs(e) for e in errors if np.isfinite(e))])


def choose(
    table: pd.DataFrame, measured_in_force: float, margin: float, tolerance: float
) -> tuple[int, dict[str, Any]]:
    """The cell to apply (see the module docstring) and why."""
    limit = (1 + tolerance) * measured_in_force
    pess = table[f"{OBJECTIVE}_hi"].fillna(table[OBJECTIVE]) * (1 + margin)
    better = table["diff_hi"].fillna(table["diff_vs_incumbent"]) < 0
    safe = (pess <= limit) | table["incumbent"]
    ok = table[safe & (better | table["incumbent"])].sort_values(OBJECTIVE, kind="stable")
    cell = int(ok.iloc[0]["cell"])
    order = table[OBJECTIVE].to_numpy(float).argsort(kind="stable")
    best = table.iloc[int(order[0])]
    why = {
        "trust_margin": margin,
        "tolerance": tolerance,
        "limit_mean_delay_s": limit,
        "measured_in_force_mean_delay_s": measured_in_force,
        "safe_cells": int(safe.sum()),
        "best_predicted": str(best["plan"]),
        "best_predicted_is_safe": bool(safe.iloc[int(order[0])]),
        "kept_in_force": bool(table.loc[table.cell == cell, "incumbent"].iloc[0]),
    }
    return cell, why


def _same(a: TimingPlan, b: TimingPlan) -> bool:
    return (a.programs, a.policy, a.params) == (b.programs, b.policy, b.params)


def revert_to(
    measured: list[tuple[TimingPlan, float]], measured_in_force: float, tolerance: float
) -> TimingPlan | None:
    """The best control measured so far, if the control in force measured worse than
    ``1 + tolerance`` times it (see the module docstring); else None."""
    if not measured:
        return None
    best, delay = min(measured, key=lambda m: m[1])
    return best if measured_in_force > (1 + tolerance) * delay else None


def act(
    net: RoadNet,
    base: TimingPlan,
    evaluate: Evaluate,
    *,
    policies: list[tuple[str, dict[str, float]]],
    routes: list[tuple[int, ...]],
    rates: np.ndarray,
    n_retimings: int,
    trials: int,
    seed: int,
    rnd: int,
    measured_in_force: float,
    errors: list[float],
    tolerance: float,
    min_margin: float,
    measured: list[tuple[TimingPlan, float]] | None = None,
) -> tuple[TimingPlan, dict[str, Any]]:
    """One act: candidates, optimiser, the safety rule, and the measured record
    (``measured``: every control SUMO ran so far with the mean delay it measured; the
    control in force is among them). Returns the control to apply and the record of what
    was tried."""
    flows = movement_flows(net, routes, rates)
    before = [p for p, _ in measured or []]
    plans = candidates(net, base, policies, flows, n_retimings, rnd, before)
    runs = evaluate(plans)
    table = summarise(runs, plans, 0, OBJECTIVE)
    if trials > 0:
        fixed = table[table["policy"] == "fixed"].sort_values(OBJECTIVE)
        start = plans[int(fixed.iloc[0]["cell"])] if len(fixed) else plans[0]
        tried = optimise(net, start, evaluate, trials, seed, f"r{rnd + 1}: optuna")
        frames = [runs] + [r.assign(cell=len(plans) + i) for i, (_, r) in enumerate(tried)]
        plans = plans + [p for p, _ in tried]
        runs = pd.concat(frames, ignore_index=True)
        table = summarise(runs, plans, 0, OBJECTIVE)
    margin = trust_margin(errors, min_margin)
    cell, why = choose(table, measured_in_force, margin, tolerance)
    back = revert_to(measured or [], measured_in_force, tolerance)
    why["reverted_to"] = None
    if back is not None:
        cell = next(i for i, p in enumerate(plans) if _same(p, back))
        why["reverted_to"] = back.label
        why["kept_in_force"] = False
    chosen = plans[cell]
    row = table[table.cell == cell].iloc[0]
    record = {
        "experiments": {
            "design": "policies and re-timings, then optuna over per-program cycles",
            "cells": len(plans),
            "replications": int(runs.groupby("cell").size().max()),
            "objective": OBJECTIVE,
            "policies": [name for name, _ in policies] + (["optuna"] if trials > 0 else []),
            "table": table.to_dict(orient="records"),
        },
        "trust": why,
        "chosen": chosen.to_json(),
        "chosen_predicted_kpis": {k: float(row[k]) for k in KPI_NAMES},
        "chosen_ci": {k: [float(row[f"{k}_lo"]), float(row[f"{k}_hi"])] for k in KPI_NAMES},
    }
    return chosen, record
