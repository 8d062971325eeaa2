"""Calibration: search the artificial parameters against a named discrepancy.

The search runs in log space (rates, headways and speeds are positive and act
multiplicatively) with an existing optimiser: scipy's Nelder-Mead or Powell, or
optuna's TPE sampler. Every evaluation is one artificial-world run under common random
numbers (the same seed for every candidate), which makes the objective deterministic.

This module never sees the actual world's truth: it gets an Observation and a prior.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from parallel.core.executors import Executor
from parallel.core.seeds import Stage, stream
from parallel.traffic.artificial.model import simulate
from parallel.traffic.judge import discrepancy
from parallel.traffic.observation import Observation, combine
from parallel.traffic.scenario import CalibrationConfig, JudgeConfig, Plan
from parallel.traffic.world import Params, WorldSpec

log = logging.getLogger(__name__)

#: search bounds in the parameters' own units
BOUNDS: dict[str, tuple[float, float]] = {
    "demand": (5.0, 5000.0),
    "saturation_headway_s": (0.8, 6.0),
    "speed.mean_kmh": (10.0, 150.0),
    "speed.sd_kmh": (0.3, 40.0),
}


def demand_from_counts(spec: WorldSpec, obs: Observation) -> dict[str, float]:
    """Arrival rates per origin estimated from the entry links' detector counts, veh/h."""
    topo = spec.topology()
    out = {}
    for origin, link in topo.entry_link.items():
        det = obs.detectors[obs.detectors["link"] == topo.links[link]]
        rate = float(det["count"].sum()) * 3600.0 / spec.demand.duration_s
        out[origin] = max(rate, 10.0)
    return out


@dataclass
class CalibrationResult:
    """What the search found."""

    prior: dict[str, float]
    fitted: dict[str, float]
    before: float
    after: float
    evaluations: int
    trace: list[dict[str, float]] = field(default_factory=list)
    objective: dict[str, float] = field(default_factory=dict)
    optimizer: str = ""


def _keys(params: Params, groups: list[str]) -> list[str]:
    flat = params.flat()
    keys: list[str] = []
    for g in groups:
        if g == "demand":
            keys += [k for k in flat if k.startswith("demand.")]
        elif g == "speed":
            keys += ["speed.mean_kmh", "speed.sd_kmh"]
        else:
            keys.append(g)
    return keys


def _bounds(key: str) -> tuple[float, float]:
    return BOUNDS["demand"] if key.startswith("demand.") else BOUNDS[key]


def _sim(task: tuple[WorldSpec, Params, Plan, np.random.SeedSequence]) -> Observation:
    spec, params, plan, seed = task
    return simulate(spec, params, plan, seed)


def calibrate(
    spec: WorldSpec,
    prior: Params,
    observed: list[tuple[Plan, Observation]],
    cfg: CalibrationConfig,
    judge_cfg: JudgeConfig,
    seed: int,
    executor: Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Params, CalibrationResult]:
    """Fit ``prior``'s parameters to the observations, each made under its own plan.

    The discrepancy is the mean over the observations of the weighted objective. Each
    candidate is simulated ``cfg.replications`` times per observation, with seeds that
    differ between observations and replications but not between candidates (common
    random numbers), on ``executor`` when one is given.

    Returns:
        The fitted parameters and a :class:`CalibrationResult` with the trace.
    """
    keys = _keys(prior, list(cfg.parameters))
    flat0 = prior.flat()
    lo = np.log([_bounds(k)[0] for k in keys])
    hi = np.log([_bounds(k)[1] for k in keys])
    x0 = np.clip(np.log([flat0[k] for k in keys]), lo, hi)
    reps = cfg.replications
    seeds = [
        [stream(seed, Stage.CALIBRATION, i, r) for r in range(reps)] for i in range(len(observed))
    ]
    trace: list[dict[str, float]] = []
    cache: dict[bytes, float] = {}

    def params_at(x: np.ndarray) -> Params:
        return prior.with_flat(dict(zip(keys, np.exp(np.clip(x, lo, hi)).tolist())))

    def f(x: np.ndarray) -> float:
        x = np.clip(np.asarray(x, float), lo, hi)
        key = np.round(x, 10).tobytes()
        if key in cache:
            return cache[key]
        p = params_at(x)
        tasks = [(spec, p, plan, s) for (plan, _), ss in zip(observed, seeds) for s in ss]
        sims = executor.map(_sim, tasks) if executor is not None else [_sim(t) for t in tasks]
        vals = []
        for i, (_, actual) in enumerate(observed):
            obs = combine(sims[i * reps : (i + 1) * reps])
            vals.append(discrepancy(cfg.objective, actual, obs, judge_cfg, seed))
        val = float(np.mean(vals))
        cache[key] = val
        trace.append(
            {
                "evaluation": len(trace) + 1,
                "discrepancy": val,
                **{k: float(v) for k, v in zip(keys, np.exp(x))},
            }
        )
        if progress:
            progress(min(len(trace), cfg.budget), cfg.budget)
        return val

    before = f(x0)
    _search(f, x0, lo, hi, keys, cfg, seed)
    best = min(trace, key=lambda r: r["discrepancy"])
    fitted = params_at(np.log([best[k] for k in keys]))
    result = CalibrationResult(
        prior={k: flat0[k] for k in keys},
        fitted={k: fitted.flat()[k] for k in keys},
        before=before,
        after=best["discrepancy"],
        evaluations=len(trace),
        trace=trace,
        objective={str(k): v for k, v in cfg.objective.items()},
        optimizer=cfg.optimizer,
    )
    log.info("calibration: %s -> %s in %d runs", before, result.after, len(trace))
    return fitted, result


def _search(
    f: Callable[[np.ndarray], float],
    x0: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    keys: list[str],
    cfg: CalibrationConfig,
    seed: int,
) -> None:
    """Run the configured optimiser on ``f`` (log space) for the rest of the budget; the
    caller reads the best point from ``f``'s trace."""
    budget = cfg.budget - 1
    if cfg.optimizer == "nelder-mead":
        simplex = np.vstack([x0] + [x0 + 0.15 * np.eye(len(x0))[i] for i in range(len(x0))])
        optimize.minimize(
            f,
            x0,
            method="Nelder-Mead",
            options={"maxfev": budget, "initial_simplex": simplex, "xatol": 1e-3, "fatol": 1e-4},
        )
    elif cfg.optimizer == "powell":
        optimize.minimize(
            f,
            x0,
            method="Powell",
            bounds=list(zip(lo, hi)),
            options={"maxfev": budget, "xtol": 1e-3, "ftol": 1e-4},
        )
    else:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed % 2**32))
        study.enqueue_trial({k: float(v) for k, v in zip(keys, x0)})
        study.optimize(
            lambda t: f(np.array([t.suggest_float(k, a, b) for k, a, b in zip(keys, lo, hi)])),
            n_trials=budget,
        )
