"""Trusting the twin: a design of plans judged in SUMO, the artificial world and SUMO MESO.

``parallel fidelity SCENARIO`` calibrates the artificial world on one SUMO observation
under the incumbent plan (demand from counts and probes, behaviour by Nelder-Mead), then
runs a design of plans (the incumbent plus re-timings: cycles scaled, green moved between
phases, offsets changed; some congested enough to spill back) R times each in three
worlds: SUMO (the measurement), the artificial world (the prediction) and SUMO's
mesoscopic model (the peer baseline, which runs the true trip file), and SUMO's
mesoscopic model again on the twin's estimated demand (``meso_estimated``: the peer as a
SUMO user without the trip file runs it, which judges the twin's model apart from its
demand estimate). Definitions of the
figures follow ``docs/metrics.md``: plan-ranking agreement by Kendall's tau and
Spearman's rho on mean delay, per-plan relative error, C2ST AUC and the GEH share, and a
``verdict`` against :data:`TARGETS` and against MESO. Every finished run is kept in its
folder, so that an interrupted call can be resumed (``resume``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from parallel.core.errors import UserInputError
from parallel.core.executors import Executor
from parallel.core.runfolder import atomic_write, dumps
from parallel.core.runner import flat_keys
from parallel.core.seeds import Stage, rng, stream
from parallel.metrics.c2st import C2STConfig, c2st
from parallel.traffic.actual.sumo_net import SumoConfig, SumoNetWorld, read_sumocfg
from parallel.traffic.artificial.params import Horizon
from parallel.traffic.city import CityScenario
from parallel.traffic.citytwin import CityTwin, learn
from parallel.traffic.demand import routes_xml
from parallel.traffic.judge import geh
from parallel.traffic.network import RoadNet, read_net
from parallel.traffic.observation import KPI_DOC, Observation
from parallel.traffic.timing import TimingPlan, design

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]
WORLDS = ("actual", "artificial", "meso", "meso_estimated")
KPIS = ("mean_delay_s", "mean_travel_time_s", "p95_travel_time_s", "throughput_veh_h")
#: world name -> the seed key's last element, so no two worlds share a stream
_WORLD_KEY = {"actual": 0, "meso": 1, "artificial": 2, "meso_estimated": 3}
#: edges listed in ``time_loss_by_edge``: those where SUMO loses the most time
TIME_LOSS_EDGES = 12
#: and per world, those where it loses the most beyond SUMO, by more than this (veh-h
#: per simulated hour: a surplus of a few vehicle-seconds is noise)
SURPLUS_EDGES = 5
SURPLUS_MIN = 0.01
#: a finished run's record in its folder, and the settings of the whole call in ``out``
RESULT = "result.json"
STATE = "fidelity.state.json"
#: what a twin must reach before it is trusted to choose between plans (``verdict``): per
#: figure, its direction and target. The ranking and the per-plan errors are this
#: project's targets (docs/metrics.md); 85% of counts within GEH 5 is FHWA's guideline.
TARGETS: dict[str, tuple[str, float]] = {
    "kendall_tau": ("higher", 0.7),
    "mare_travel_time": ("lower", 0.10),
    "mare_delay": ("lower", 0.15),
    "geh_share": ("higher", 0.85),
}
#: two worlds' figures closer than this are a tie, which is not a win: a tau over 10 plans
#: moves in steps of 2/45, so equal taus are common (float noise aside, equal is equal)
TIE = 1e-9


@dataclass(frozen=True)
class _Task:
    """One run of one plan in one world (picklable: runs on any executor)."""

    world: str
    plan_index: int
    rep: int
    plan: TimingPlan
    root: int
    run_dir: str
    sumo: SumoNetWorld | None = None
    twin: CityTwin | None = None


def _run(task: _Task) -> tuple[str, int, int, Observation, float]:
    """Returns the observation and the wall time of the simulation as a user runs it: the
    ``sumo`` process for SUMO and MESO, the whole :func:`simulate_net` call for the twin.
    The result is kept in the run's folder (:func:`_keep`) for ``--resume``."""
    seed = stream(task.root, Stage.FIDELITY, task.plan_index, task.rep, _WORLD_KEY[task.world])
    if task.twin is not None:
        t0 = time.perf_counter()
        obs = task.twin.run(task.plan, seed)
        wall = time.perf_counter() - t0
    else:
        assert task.sumo is not None
        obs = task.sumo.observe(task.plan, seed, Path(task.run_dir))
        wall = float(obs.meta["sim_wall_s"])
    _keep(Path(task.run_dir), obs, wall)
    return task.world, task.plan_index, task.rep, obs, wall


def _keep(run_dir: Path, obs: Observation, wall: float) -> None:
    """Save a finished run: its tables as Parquet, then :data:`RESULT` (atomically, and
    last, so that its presence means the tables beside it are whole)."""
    obs.save(run_dir, "result")
    atomic_write(run_dir / RESULT, dumps({"kpis": obs.kpis, "meta": obs.meta, "wall_s": wall}))


def _kept(task: _Task) -> tuple[str, int, int, Observation, float] | None:
    """A run that a previous, interrupted call finished (None if it did not)."""
    folder = Path(task.run_dir)
    if not (folder / RESULT).is_file():
        return None
    rec = json.loads((folder / RESULT).read_text())
    obs = Observation.read(folder, "result", rec["kpis"], rec["meta"])
    return task.world, task.plan_index, task.rep, obs, float(rec["wall_s"])


def _state(sc: CityScenario, reps: int, plans: list[TimingPlan]) -> dict[str, Any]:
    """What a resumed call must share with the call it continues (any executor will do:
    the same seeds give the same figures on every one)."""
    return {
        "scenario": sc.model_dump(mode="json", exclude={"executor"}),
        "reps": reps,
        "plans": [p.label for p in plans],
    }


def _check_resume(out: Path, state: dict[str, Any], resume: bool) -> None:
    """Write the run's settings, or (``resume``) check them against the interrupted run's.

    Raises:
        UserInputError: ``resume`` into a folder that holds no fidelity run, or one made
            with other settings (each differing key named).
    """
    path = out / STATE
    if not resume:
        atomic_write(path, dumps(state))
        return
    if not path.is_file():
        raise UserInputError(
            f"--resume {out}: no interrupted fidelity run there ({STATE} is missing); "
            "give the --out folder of the run to continue, or drop --resume"
        )
    old, new = flat_keys(json.loads(path.read_text())), flat_keys(json.loads(dumps(state)))
    diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if diff:
        raise UserInputError(
            f"--resume {out}: that run was made with other settings ({', '.join(diff)} "
            "differ); run again with the same scenario and options, or into a new --out"
        )


def run_fidelity(
    sc: CityScenario,
    out: Path,
    executor: Executor,
    plans: int | None = None,
    reps: int | None = None,
    progress: Progress | None = None,
    net: RoadNet | None = None,
    design_plans: list[TimingPlan] | None = None,
    more_plans: Callable[[CityTwin], list[TimingPlan]] | None = None,
    resume: bool = False,
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """Calibrate, run the design in every world, and compare.

    Every finished run is kept in its folder under ``out``. With ``resume``, a call
    into the ``out`` of an interrupted one, with the same settings, calibrates again
    (the same seeds give the same twin) and runs only the runs that did not finish; the
    figures are those an uninterrupted call gives, all but the wall times.

    Args:
        net: the network with the programs plans are written on (default: the .sumocfg's
            network as its file has it).
        design_plans: the plans to compare, the incumbent first (default:
            :func:`parallel.traffic.timing.design` of ``plans`` plans).
        more_plans: plans that need the calibrated twin (Webster's from its flows),
            appended to the design.

    Returns:
        ``fidelity.json``'s content, and the incumbent plan's hourly flow per
        edge-interval in every world (for the GEH plot).
    """
    say = progress or (lambda what, k, n: None)
    n_plans = plans or sc.fidelity.plans
    n_reps = reps or sc.fidelity.reps
    cfg = read_sumocfg(sc.sumocfg)
    net = net or read_net(cfg.net_file)
    horizon = Horizon(cfg.begin_s, cfg.end_s - cfg.begin_s, sc.observation.interval_s)
    actual = SumoNetWorld(
        cfg, horizon.interval_s, sc.observation.probe_share, out / "sumo", False,
        sc.sumo.time_to_teleport_s, net=net,
    )  # fmt: skip
    design_plans = design_plans or design(net, n_plans)
    _check_resume(out, _state(sc, n_reps, design_plans), resume)
    k_obs = min(sc.fidelity.calibrate_on, len(design_plans))
    calib: list[tuple[TimingPlan, Observation]] = []
    for i in range(k_obs):  # the incumbent first, as the loop's first round sees it
        say("observe (SUMO) to calibrate on", i, k_obs)
        run = out / ("calibration" if i == 0 else f"calibration{i + 1}")
        calib.append(
            (
                design_plans[i],
                actual.observe(design_plans[i], stream(sc.seed, Stage.ACTUAL, i), run),
            )
        )
    say("observe (SUMO) to calibrate on", k_obs, k_obs)
    observed = calib[0][1]
    t0 = time.perf_counter()
    twin = learn(sc, net, horizon, calib, say, executor)
    learn_s = time.perf_counter() - t0
    if more_plans is not None:
        design_plans = [*design_plans, *more_plans(twin)]
    wanted = {"meso": sc.fidelity.meso, "meso_estimated": sc.fidelity.meso_estimated}
    worlds = [w for w in WORLDS if wanted.get(w, True)]
    sumo = {"actual": actual, **_peers(sc, cfg, net, twin, horizon, out, worlds)}
    tasks = [
        _Task(
            w, p, r, plan, sc.seed, str(out / "runs" / f"{w}-p{p:02d}-r{r:02d}"),
            sumo.get(w), twin if w == "artificial" else None,
        )
        for p, plan in enumerate(design_plans)
        for w in worlds
        for r in range(max(n_reps, sc.artificial.replications) if w == "artificial" else n_reps)
    ]  # fmt: skip
    results, kept = _design_runs(tasks, executor, resume, say)
    summary = summarise(sc, design_plans, results, worlds, twin, observed, horizon, learn_s)
    summary["settings"]["runs_kept_from_before"] = kept
    return summary, incumbent_flows(results, worlds, horizon.interval_s)


def _design_runs(
    tasks: list[_Task], executor: Executor, resume: bool, say: Progress
) -> tuple[list[tuple[str, int, int, Observation, float]], int]:
    """Every task's result, in task order (so that replications sum in the same order
    whether a run was kept or made now): the kept ones read back, the rest run; and how
    many were kept."""
    kept = {i: r for i, t in enumerate(tasks) if resume and (r := _kept(t)) is not None}
    todo = [t for i, t in enumerate(tasks) if i not in kept]
    say("design runs", len(kept), len(tasks))
    fresh = iter(executor.map(_run, todo, lambda k: say("design runs", len(kept) + k, len(tasks))))
    return [kept[i] if i in kept else next(fresh) for i in range(len(tasks))], len(kept)


def _peers(
    sc: CityScenario,
    cfg: SumoConfig,
    net: RoadNet,
    twin: CityTwin,
    horizon: Horizon,
    out: Path,
    worlds: list[str],
) -> dict[str, SumoNetWorld]:
    """SUMO's mesoscopic model on the true trip file, and on the twin's estimated demand
    written as SUMO flows (``meso_estimated``)."""
    meso = SumoNetWorld(
        cfg, horizon.interval_s, sc.observation.probe_share, out / "meso", True,
        sc.sumo.time_to_teleport_s, check=False, net=net,
    )  # fmt: skip
    peers = {"meso": meso}
    if "meso_estimated" in worlds:
        est = out / "meso_estimated"
        est.mkdir(parents=True, exist_ok=True)
        (est / "estimated.rou.xml").write_text(
            routes_xml(net, twin.demand, cfg.begin_s, horizon.interval_s)
        )
        peers["meso_estimated"] = SumoNetWorld(
            replace(cfg, route_files=(est / "estimated.rou.xml",)), horizon.interval_s,
            sc.observation.probe_share, est, True, sc.sumo.time_to_teleport_s, check=False,
            net=net,
        )  # fmt: skip
    return peers


def incumbent_flows(
    results: list[tuple[str, int, int, Observation, float]], worlds: list[str], interval_s: float
) -> dict[str, list[float]]:
    """Mean hourly flow per edge-interval under the incumbent, aligned on SUMO's index."""
    by_world = {w: [obs for ww, p, _, obs, _ in results if ww == w and p == 0] for w in worlds}
    c = _mean_counts(by_world["actual"])
    scale = 3600.0 / interval_s
    return {
        w: (_mean_counts(obs).reindex(c.index, fill_value=0.0) * scale).tolist()
        for w, obs in by_world.items()
    }


def _kpi_stats(obs: list[Observation]) -> dict[str, dict[str, float]]:
    """Mean and s.e. over replications of each KPI, and of the teleports per run (gridlock
    resolved: SUMO's statistic output, the twin's own count)."""
    values = {k: [o.kpis[k] for o in obs] for k in KPIS}
    values["teleports"] = [o.meta.get("teleports", 0) for o in obs]
    out = {}
    for k, vals in values.items():
        v = np.array(vals, float)
        se = float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")
        out[k] = {"mean": float(v.mean()), "se": se}
    return out


def _mean_counts(obs: list[Observation]) -> Any:
    frames = [o.detectors.set_index(["link", "interval_start_s"])["count"] for o in obs]
    return sum(f.astype(float) for f in frames) / len(frames)


def geh_share(actual: list[Observation], other: list[Observation], interval_s: float) -> float:
    """Share of edge-intervals with GEH < 5, on the replications' mean counts scaled to
    hourly flows (docs/metrics.md: scale shorter intervals to hourly rates first)."""
    c = _mean_counts(actual)
    m = _mean_counts(other).reindex(c.index, fill_value=0.0)
    scale = 3600.0 / interval_s
    return float(np.mean(geh(m.to_numpy() * scale, c.to_numpy() * scale) < 5))


def edge_time_loss(det: pd.DataFrame, net: RoadNet) -> pd.Series:
    """Vehicle-seconds lost per edge: per edge-interval, the vehicles that left the edge
    times the time each took beyond driving it at the speed limit, ``count x length x (1 /
    mean speed - 1 / limit)``, summed over the intervals (docs/metrics.md).

    The mean speed is the space-mean speed that SUMO's ``edgeData`` and the twin's tally
    both report (distance over time on the edge), so every world is measured alike. An
    interval that no vehicle left adds nothing; edges that ``net`` lacks are left out.
    """
    known = det[det["link"].isin(net.edge_index)]
    idx = known["link"].map(net.edge_index).to_numpy(int)
    length = np.array([e.length_m for e in net.edges], float)[idx]
    limit = np.array([e.speed_mps for e in net.edges], float)[idx]
    v = known["mean_speed_kmh"].to_numpy(float) / 3.6
    n = known["count"].to_numpy(float)
    ok = (n > 0) & (v > 0)  # a NaN speed compares False
    lost = np.zeros(len(known))
    lost[ok] = n[ok] * length[ok] * (1.0 / v[ok] - 1.0 / limit[ok])
    return pd.Series(lost, index=known["link"].to_numpy()).groupby(level=0).sum()


def time_loss_by_edge(
    runs: dict[tuple[str, int], list[Observation]], worlds: list[str], net: RoadNet, hours: float
) -> dict[str, Any]:
    """Where each world loses its time under the incumbent plan.

    * ``total``: vehicle-hours lost per simulated hour in the whole network;
    * ``edges``: the same on the :data:`TIME_LOSS_EDGES` edges where SUMO loses the most;
    * ``located_share``: per world, the share of SUMO's loss on those edges that it puts
      there too (the sum over them of the smaller of the two losses, over SUMO's);
    * ``surplus``: per world, the :data:`SURPLUS_EDGES` edges where it loses the most
      beyond SUMO.

    A twin can match the mean delay with its queues in the wrong places; this says where
    they are."""
    per = {
        w: pd.concat([edge_time_loss(o.detectors, net) for o in runs[(w, 0)]], axis=1)
        .fillna(0.0)
        .mean(axis=1)
        / 3600.0
        / hours
        for w in worlds
    }
    top = per["actual"].sort_values(ascending=False).index[:TIME_LOSS_EDGES]
    on_top = {w: np.array([float(per[w].get(e, 0.0)) for e in top]) for w in worlds}
    sumo = float(on_top["actual"].sum())
    # how much of SUMO's loss on those edges a world puts there too (1 = all of it; a
    # world's surplus on an edge earns nothing)
    located = {
        w: float(np.minimum(np.maximum(v, 0.0), on_top["actual"]).sum() / sumo) if sumo > 0 else 1.0
        for w, v in on_top.items()
        if w != "actual"
    }
    return {
        "unit": "vehicle-hours lost per simulated hour, incumbent plan, mean over replications",
        "total": {w: float(s.sum()) for w, s in per.items()},
        "located_share": located,
        "edges": [
            {"edge": str(e), **{w: float(on_top[w][i]) for w in worlds}} for i, e in enumerate(top)
        ],
        "surplus": {w: _surplus(per[w], per["actual"]) for w in worlds if w != "actual"},
    }


def _surplus(world: pd.Series, sumo: pd.Series, n: int = SURPLUS_EDGES) -> list[dict[str, Any]]:
    """The ``n`` edges where a world loses the most time beyond SUMO's loss there: the
    queues it predicts that SUMO does not have (only surpluses above :data:`SURPLUS_MIN`)."""
    both = pd.concat({"world": world, "actual": sumo}, axis=1).fillna(0.0)
    w, a = both["world"].to_numpy(float), both["actual"].to_numpy(float)
    order = np.argsort(a - w, kind="stable")[:n]  # the largest surplus first
    return [
        {"edge": str(both.index[i]), "world": float(w[i]), "actual": float(a[i])}
        for i in order
        if w[i] - a[i] > SURPLUS_MIN
    ]


def summarise(
    sc: CityScenario,
    plans: list[TimingPlan],
    results: list[tuple[str, int, int, Observation, float]],
    worlds: list[str],
    twin: CityTwin,
    observed: Observation,
    horizon: Horizon,
    learn_s: float,
) -> dict[str, Any]:
    """The fidelity figures (the layout ``fidelity.json`` documents)."""
    runs: dict[tuple[str, int], list[Observation]] = {}
    walls: dict[str, list[float]] = {w: [] for w in worlds}
    for world, p, _, obs, wall in results:
        runs.setdefault((world, p), []).append(obs)
        walls[world].append(wall)
    hours = horizon.duration_s / 3600.0
    table: list[dict[str, Any]] = [
        {"label": plan.label, **{w: _kpi_stats(runs[(w, p)]) for w in worlds}}
        for p, plan in enumerate(plans)
    ]
    meas = np.array([[row["actual"][k]["mean"] for k in KPIS] for row in table])
    out: dict[str, Any] = {
        "scenario": sc.name,
        "plans": table,
        "kendall_tau": {},
        "spearman": {},
        "mean_abs_rel_error": {},
        "max_abs_rel_error": {},
        "c2st_auc": {},
        "geh_share": {},
    }
    d = KPIS.index("mean_delay_s")
    for w in (w for w in worlds if w != "actual"):
        pred = np.array([[row[w][k]["mean"] for k in KPIS] for row in table])
        tau = stats.kendalltau(meas[:, d], pred[:, d])
        rho = stats.spearmanr(meas[:, d], pred[:, d])
        out["kendall_tau"][w] = {"tau": float(tau.statistic), "p_value": float(tau.pvalue)}
        out["spearman"][w] = {"rho": float(rho.statistic), "p_value": float(rho.pvalue)}
        rel = np.abs(pred - meas) / np.abs(meas)
        out["mean_abs_rel_error"][w] = dict(zip(KPIS, map(float, rel.mean(axis=0))))
        out["max_abs_rel_error"][w] = dict(zip(KPIS, map(float, rel.max(axis=0))))
        out["c2st_auc"][w] = _c2st(runs[("actual", 0)][0], runs[(w, 0)][0], sc.seed)
        out["geh_share"][w] = geh_share(runs[("actual", 0)], runs[(w, 0)], horizon.interval_s)
    out["time_loss_by_edge"] = time_loss_by_edge(runs, worlds, twin.net, hours)
    out["wall_s_per_sim_hour"] = {
        {"actual": "sumo"}.get(w, w): float(np.mean(walls[w]) / hours) for w in worlds
    }
    out["verdict"] = verdict(out)
    speed = out["wall_s_per_sim_hour"]
    out["speedup_vs_sumo"] = {k: speed["sumo"] / v for k, v in speed.items() if k != "sumo"}
    out["calibration"] = {k: v for k, v in twin.calibration.items() if k != "trace"}
    out["demand"] = dict(twin.demand.info)
    out["observed_kpis"] = observed.kpis
    out["settings"] = {
        "plans": len(plans),
        "reps": len(runs[("actual", 0)]),
        "artificial_reps": len(runs[("artificial", 0)]),
        "interval_s": horizon.interval_s,
        "probe_share": sc.observation.probe_share,
        "calibrated_on_plans": [p.label for p in plans[: sc.fidelity.calibrate_on]],
        "seed": sc.seed,
        "learn_s": learn_s,
        "kpis": {k: KPI_DOC.get(k, "") for k in KPIS},
    }
    return out


def _figure(out: dict[str, Any], name: str, world: str) -> float | None:
    """One :data:`TARGETS` figure of ``world`` from the fidelity figures (None if absent)."""
    if world not in out["kendall_tau"]:
        return None
    if name == "kendall_tau":
        return float(out["kendall_tau"][world]["tau"])
    if name == "geh_share":
        return float(out["geh_share"][world])
    kpi = {"mare_travel_time": "mean_travel_time_s", "mare_delay": "mean_delay_s"}[name]
    return float(out["mean_abs_rel_error"][world][kpi])


def verdict(out: dict[str, Any], world: str = "artificial", peer: str = "meso") -> dict[str, Any]:
    """How far ``world`` can be trusted: per :data:`TARGETS` figure its value, whether it
    meets the target, and how it compares with ``peer`` (SUMO's mesoscopic model on the
    true trips: ``better``, ``tie`` or ``worse``; None when the peer did not run).

    ``trusted`` is true when every target is met; ``beats_peer`` when every figure is
    better than the peer's (a tie is not better).
    """
    figures: dict[str, dict[str, Any]] = {}
    for name, (direction, target) in TARGETS.items():
        v, q = _figure(out, name, world), _figure(out, name, peer)
        if v is None:
            raise KeyError(f"no {name} for the world {world!r}")
        sign = 1.0 if direction == "higher" else -1.0
        against = None
        if q is not None:
            gain = sign * (v - q)
            against = "tie" if abs(gain) <= TIE else ("better" if gain > 0 else "worse")
        figures[name] = {
            "value": v,
            "target": target,
            "direction": direction,
            "meets": bool(sign * (v - target) >= -TIE),
            "peer": q,
            "against_peer": against,
        }
    return {
        "world": world,
        "peer": peer if _figure(out, "kendall_tau", peer) is not None else None,
        "figures": figures,
        "trusted": all(f["meets"] for f in figures.values()),
        "beats_peer": all(f["against_peer"] == "better" for f in figures.values()),
    }


def _c2st(actual: Observation, other: Observation, root: int) -> dict[str, float]:
    """C2ST on vehicle records of the incumbent plan (first replications)."""
    auc, p = c2st(
        actual.vehicles,
        other.vehicles,
        C2STConfig(permutations=100),
        rng(root, Stage.JUDGE, 0),
        ("travel_time_s", "delay_s", "stops", "entry_time_s"),
        ("origin", "destination"),
    )
    return {"auc": auc, "p_value": p}
