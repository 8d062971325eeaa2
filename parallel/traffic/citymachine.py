"""The parallel machine on a real network: SUMO is the actual system, the city twin the artificial one.

observe: SUMO under the control in force (counts, probes, vehicle records); imitate: the
twin under the same control; judge: distances, GEH/RMSN and a C2ST; adapt: demand from
the latest counts and probes, then behaviour by calibration; act: the scenario's policies
(fixed-time re-timings, Webster, actuated, max-pressure) and an optimiser compared in the
twin with common random numbers, and the best control that is safe given how far the
twin has been right so far (:mod:`parallel.traffic.cityact`) goes to SUMO next round.

Run with ``parallel run scenarios/cologne8.yaml``. The report and summary have the same
layout as every traffic run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from parallel.core.executors import Executor
from parallel.core.seeds import Stage, rng, stream
from parallel.traffic.actual.recorded import RecordedCity
from parallel.traffic.actual.sumo_net import SumoNetWorld, read_sumocfg
from parallel.traffic.artificial.params import Horizon, MesoParams
from parallel.traffic.city import CityScenario
from parallel.traffic.cityact import OBJECTIVE, act
from parallel.traffic.citytwin import CityTwin, discrepancy, learn, run_task
from parallel.traffic.demand import estimate
from parallel.traffic.judge import geh_share, judge
from parallel.traffic.network import read_net
from parallel.traffic.observation import Observation, combine
from parallel.traffic.scenario import KPI_NAMES, JudgeConfig
from parallel.traffic.timing import TimingPlan, incumbent

Progress = Callable[[str, int, int], None]


def _rel(predicted: float, measured: float) -> float:
    return (predicted - measured) / measured if measured else float("nan")


def _kpi_row(obs: Observation) -> dict[str, float]:
    return {k: obs.kpis[k] for k in KPI_NAMES}


class CityMachine:
    """A :class:`~parallel.core.loop.Machine` over SUMO and the city twin."""

    name = "city"

    def __init__(
        self,
        sc: CityScenario,
        executor: Executor,
        data_dir: Path | None = None,
        progress: Progress | None = None,
        work_dir: Path | None = None,
        checkpoint_dir: Path | None = None,
    ) -> None:
        self.sc, self.executor, self.data_dir = sc, executor, data_dir
        self.checkpoint_dir = checkpoint_dir
        self.progress = progress or (lambda what, k, n: None)
        cfg = read_sumocfg(sc.sumocfg)
        self.net = read_net(cfg.net_file)
        self.horizon = Horizon(cfg.begin_s, cfg.end_s - cfg.begin_s, sc.observation.interval_s)
        self.actual_world: SumoNetWorld | RecordedCity
        if sc.replay_dir is not None:
            self.actual_world = RecordedCity(
                sc.replay_dir, self.net, self.horizon.duration_s, self.horizon.interval_s
            )
        else:
            self.actual_world = SumoNetWorld(
                cfg, self.horizon.interval_s, sc.observation.probe_share,
                work_dir or Path("sumo"), time_to_teleport_s=sc.sumo.time_to_teleport_s,
            )  # fmt: skip
        self.judge_cfg = JudgeConfig(detector_interval_s=self.horizon.interval_s)
        self.plan: TimingPlan = incumbent(self.net)
        self.twin: CityTwin | None = None
        self.predicted: dict[str, float] | None = None
        self.first: dict[str, float] | None = None
        self.observed: list[tuple[TimingPlan, Observation]] = []
        self.n_observed = 0  # every observation calibrated on so far, the window's and older
        #: relative errors of the twin's mean delay: its predictions of the controls in
        #: force, and its calibrated fits (what the act verb's trust margin is made of)
        self.errors: list[float] = []
        self.measured_in_force = float("nan")
        #: every control SUMO ran, with the mean delay it measured (the act verb goes
        #: back to the best of them when exploration went wrong)
        self.measured: list[tuple[TimingPlan, float]] = []

    # -- checkpoint (``parallel run --resume``) ---------------------------------------
    def state(self) -> dict[str, Any]:
        """Everything the next round starts from, as plain data; the observations that
        calibration still looks back on are written beside it as Parquet (each once)."""
        assert self.checkpoint_dir is not None and self.twin is not None
        # only the calibration's window is looked back on; number them from the first
        window = self.observed[-self.sc.calibration.window :]
        first = self.n_observed - len(window)
        observed = []
        for i, (plan, obs) in enumerate(window):
            stem = f"observed{first + i + 1}"
            if not (self.checkpoint_dir / f"{stem}.vehicles.parquet").is_file():
                obs.save(self.checkpoint_dir, stem)
            observed.append(
                {"plan": plan.to_json(), "stem": stem, "kpis": obs.kpis, "meta": obs.meta}
            )
        return {
            "plan": self.plan.to_json(),
            "twin": self.twin.to_json(),
            "predicted": self.predicted,
            "first": self.first,
            "errors": self.errors,
            "measured_in_force": self.measured_in_force,
            "observed": observed,
            "n_observed": self.n_observed,
            "measured": [{"plan": p.to_json(), "mean_delay_s": d} for p, d in self.measured],
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state`: the plan in force, the calibrated twin, the trust
        record and the observations in the calibration's window."""
        assert self.checkpoint_dir is not None
        nan = float("nan")
        self.plan = TimingPlan.from_json(state["plan"])
        self.twin = CityTwin.from_json(state["twin"], self.net, self.horizon)
        self.predicted = {k: nan if v is None else v for k, v in state["predicted"].items()}
        self.first = {k: nan if v is None else v for k, v in state["first"].items()}
        self.errors = [nan if e is None else float(e) for e in state["errors"]]
        m = state["measured_in_force"]
        self.measured_in_force = nan if m is None else float(m)
        self.observed = [
            (TimingPlan.from_json(o["plan"]),
             Observation.read(self.checkpoint_dir, o["stem"], o["kpis"], o["meta"]))
            for o in state["observed"]
        ]  # fmt: skip
        self.n_observed = int(state["n_observed"])
        self.measured = [
            (
                TimingPlan.from_json(m["plan"]),
                nan if m["mean_delay_s"] is None else float(m["mean_delay_s"]),
            )
            for m in state["measured"]
        ]

    # -- helpers -------------------------------------------------------------------
    def _save(self, obs: Observation, stem: str) -> None:
        if self.data_dir is not None:
            obs.save(self.data_dir, stem)

    def _rows(self, plans: list[TimingPlan], rnd: int) -> pd.DataFrame:
        """The act verb's evaluator: every control x replication, CRN across controls."""
        reps = self.sc.artificial.replications
        runs = self._runs(plans, Stage.EXPERIMENTS, rnd)
        rows = [
            {"cell": c, "rep": r, **_kpi_row(runs[c * reps + r])}
            for c in range(len(plans))
            for r in range(reps)
        ]
        return pd.DataFrame(rows)

    def _runs(self, plans: list[TimingPlan], stage: Stage, rnd: int) -> list[Observation]:
        """Every plan x replication in the twin; replication r shares its seed across plans."""
        assert self.twin is not None
        reps = self.sc.artificial.replications
        tasks = [
            (self.twin, p, stream(self.sc.seed, stage, rnd, r)) for p in plans for r in range(reps)
        ]
        total = len(tasks)
        return self.executor.map(run_task, tasks, lambda k: self.progress("twin runs", k, total))

    @staticmethod
    def _control(plan: TimingPlan) -> dict[str, Any]:
        return plan.to_json()

    # -- the five verbs --------------------------------------------------------------
    def observe(self, rnd: int) -> Observation:
        obs = self.actual_world.observe(self.plan, stream(self.sc.seed, Stage.ACTUAL, rnd))
        self._save(obs, f"round{rnd + 1}.actual")
        self.measured.append((self.plan, float(obs.kpis[OBJECTIVE])))
        if self.twin is None:  # round 1: demand from the counts, behaviour from the prior
            assert obs.probes is not None
            demand = estimate(
                self.net, obs.detectors, obs.probes, self.sc.observation.probe_share,
                self.horizon.duration_s, self.horizon.interval_s,
                None if (det := self.sc.observation.detectors) == "all" else list(det),
                per_interval=self.sc.calibration.demand_per_interval,
                interior_ends=self.sc.calibration.demand_interior_ends,
            )  # fmt: skip
            prior = MesoParams(**self.sc.artificial.params.model_dump())
            self.twin = CityTwin(self.net, self.horizon, demand, prior)
            self.first = dict(obs.kpis)
        return obs

    def imitate(self, rnd: int) -> Observation:
        obs = combine(self._runs([self.plan], Stage.IMITATE, rnd))
        self._save(obs, f"round{rnd + 1}.artificial")
        if self.predicted is None:
            self.predicted = dict(obs.kpis)
        return obs

    def judge(self, rnd: int, actual: Observation, artificial: Observation) -> dict[str, Any]:
        verdict = judge(actual, artificial, self.judge_cfg, rng(self.sc.seed, Stage.JUDGE, rnd))
        # the twin's prediction of the control in force, made before SUMO ran it (in round
        # 1 by the uncalibrated prior): out-of-sample evidence for the act verb's trust
        self.errors.append(_rel(artificial.kpis[OBJECTIVE], actual.kpis[OBJECTIVE]))
        return {
            "control": self._control(self.plan),
            "actual_kpis": actual.kpis,
            "artificial_kpis": artificial.kpis,
            "predicted_kpis": self.predicted,
            "verdict": verdict.table().to_dict(orient="records"),
            "headline": verdict.headline(),
            "discrepancy": {
                "objective": {
                    "travel time and delay error + KS of travel time + delay error per entry": 1.0
                },
                "before": discrepancy(actual, [artificial]),
            },
            "behaviours": None,
        }

    def adapt(self, rnd: int, actual: Observation) -> dict[str, Any]:
        # every plan observed so far (up to calibration.window) constrains the behaviour
        self.observed.append((self.plan, actual))
        self.n_observed += 1
        window = self.observed[-self.sc.calibration.window :]
        twin = learn(
            self.sc,
            self.net,
            self.horizon,
            window,
            self.progress,
            self.executor,
        )
        self.twin = twin
        after = combine(self._runs([self.plan], Stage.IMITATE, rnd))
        cal = twin.calibration
        self.errors.append(_rel(after.kpis[OBJECTIVE], actual.kpis[OBJECTIVE]))
        self.measured_in_force = float(actual.kpis[OBJECTIVE])
        return {
            "calibration": {**cal, "observations": len(window)},
            "demand": dict(twin.demand.info),
            "discrepancy_after": discrepancy(actual, [after]),
            "geh_share_after": geh_share(actual, after, self.horizon.interval_s),
            "artificial_kpis_after": after.kpis,
            # the calibrated twin judged as the round's prior was: how far to trust it now
            "headline_after": judge(
                actual, after, self.judge_cfg, rng(self.sc.seed, Stage.JUDGE, rnd, 1)
            ).headline(),
        }

    def act(self, rnd: int) -> dict[str, Any]:
        assert self.twin is not None
        loop = self.sc.loop
        chosen, record = act(
            self.net,
            self.plan,
            lambda plans: self._rows(plans, rnd),
            policies=[(p.policy, dict(p.params)) for p in loop.policies],
            routes=list(self.twin.demand.routes),
            rates=self.twin.demand.rates_veh_h,
            n_retimings=loop.plans - 1,
            trials=loop.optimise,
            seed=int(stream(self.sc.seed, Stage.EXPERIMENTS, rnd, 10**6).generate_state(1)[0]),
            rnd=rnd,
            measured_in_force=self.measured_in_force,
            errors=self.errors,
            tolerance=loop.tolerance,
            min_margin=loop.min_margin,
            measured=self.measured,
        )
        record["trust"]["errors_so_far"] = list(self.errors)
        self.plan = chosen
        self.predicted = record["chosen_predicted_kpis"]
        self.progress(f"act: {chosen.label}", 1, 1)
        return record

    def finish(self) -> dict[str, Any]:
        """Apply the last chosen plan in SUMO and record what happened."""
        assert self.predicted is not None and self.first is not None
        if not self.actual_world.actionable:
            return {
                "applied": False,
                "control": self._control(self.plan),
                "note": "a recording cannot be acted on; the chosen control is a "
                "recommendation (run the scenario without sumo.replay to apply it in SUMO)",
                "params": self.twin.params.flat() if self.twin else None,
                "predicted_kpis": self.predicted,
                "actual_kpis": None,
            }
        n = self.sc.loop.rounds
        obs = self.actual_world.observe(self.plan, stream(self.sc.seed, Stage.ACTUAL, n))
        self._save(obs, "final.actual")
        k = obs.kpis
        return {
            "applied": True,
            "control": self._control(self.plan),
            "params": self.twin.params.flat() if self.twin else None,
            "actual_kpis": k,
            "predicted_kpis": self.predicted,
            "prediction_error": {
                m: (self.predicted[m] - k[m]) / k[m] if k[m] else None for m in KPI_NAMES
            },
            "change_vs_round1": {
                m: (k[m] - self.first[m]) / self.first[m] if self.first[m] else None
                for m in KPI_NAMES
            },
        }
