"""The traffic twin: the parallel machine for a road network.

observe: the actual world under the current plan; imitate: the artificial (SimPy)
world under the same plan with the current parameters; judge: distances, GEH/RMSN and
a C2ST; adapt: calibration against everything observed so far; act: computational
experiments over the plan design, and the best plan goes to the actual world next round.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from parallel.core.errors import RunError
from parallel.core.executors import Executor
from parallel.core.seeds import Stage, stream
from parallel.traffic.actual import make_actual
from parallel.traffic.artificial.model import simulate
from parallel.traffic.calibrate import calibrate, demand_from_counts
from parallel.traffic.experiments import design, run_design, summarise
from parallel.traffic.judge import discrepancy, geh_share, judge
from parallel.traffic.observation import Observation, combine
from parallel.traffic.scenario import KPI_NAMES, Plan, Scenario
from parallel.traffic.scenario import ReferenceWorld as ReferenceCfg
from parallel.traffic.scenario import SumoWorld as SumoCfg
from parallel.traffic.world import Params, WorldSpec

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]


def flat_truth(sc: Scenario) -> dict[str, float] | None:
    """The reference world's truth under the key paths the fitted values use; else None."""
    if not isinstance(sc.actual, ReferenceCfg | SumoCfg):
        return None
    t = sc.actual.truth
    out = {f"demand.{k}": float(v) for k, v in t.demand.items()}
    out["speed.mean_kmh"] = t.speed.mean_kmh
    out["speed.sd_kmh"] = t.speed.sd_kmh
    out.update({f"driver.{k}": float(v) for k, v in t.driver.model_dump().items()})
    return out


class TrafficMachine:
    """A :class:`~parallel.core.loop.Machine` over an actual world and the SimPy artificial world."""

    name = "traffic"

    def __init__(
        self,
        sc: Scenario,
        executor: Executor,
        data_dir: Path | None = None,
        progress: Progress | None = None,
        work_dir: Path | None = None,
    ) -> None:
        self.sc = sc
        self.actual_world = make_actual(sc, work_dir)
        # The artificial side reads only the spec: no truth in it. A SUMO world may have
        # generated its network file; the artificial world reads the same file.
        base = WorldSpec.of(sc)
        self.spec = replace(
            base, net_file=getattr(self.actual_world, "net_file", None) or base.net_file
        )
        self.executor = executor
        self.data_dir = data_dir
        self.progress = progress or (lambda what, k, n: None)
        self.topo = self.spec.topology()
        self.plan: Plan = sc.control.initial
        self.params: Params | None = None
        self.predicted: dict[str, float] | None = None
        self.observed: list[tuple[Plan, Observation]] = []

    # -- helpers -------------------------------------------------------------------
    def _seed(self, stage: Stage, *key: int) -> np.random.SeedSequence:
        return stream(self.sc.seed, stage, *key)

    def _imitate(self, params: Params, plan: Plan, rnd: int) -> Observation:
        reps = self.sc.artificial.replications
        obs = [
            simulate(self.spec, params, plan, self._seed(Stage.IMITATE, rnd, r), self.topo)
            for r in range(reps)
        ]
        return combine(obs)

    def _save(self, obs: Observation, stem: str) -> None:
        if self.data_dir is not None:
            obs.save(self.data_dir, stem)

    # -- the five verbs --------------------------------------------------------------
    def observe(self, rnd: int) -> Observation:
        obs = self.actual_world.observe(self.plan, self._seed(Stage.ACTUAL, rnd))
        if len(obs.vehicles) == 0:
            raise RunError(
                f"round {rnd + 1}: the actual world recorded no vehicles; "
                "lengthen demand.duration_s or check the demand"
            )
        self.observed.append((self.plan, obs))
        self._save(obs, f"round{rnd + 1}.actual")
        if self.params is None:
            prior = self.sc.artificial.params
            demand = (
                demand_from_counts(self.spec, obs)
                if prior.demand == "from_counts"
                else dict(prior.demand)
            )
            self.params = Params.from_prior(prior, self.sc.artificial.behaviours, demand)
            if self.learned_kinds:
                self.params = replace(self.params, learned=self._learn(obs))
        return obs

    # -- learned behaviours ------------------------------------------------------------
    @property
    def learned_kinds(self) -> list[str]:
        beh = self.sc.artificial.behaviours
        return [k for k, v in (("arrivals", beh.arrivals), ("speed", beh.speed)) if v == "learned"]

    def _learn(self, obs: Observation) -> dict[str, Any]:
        """Train each learned behaviour on the first 80% of round 1's vehicles (by entry
        time); the last 20% stay held out for round 1's comparison."""
        from parallel.traffic.artificial.learned import extract, path_lengths, train

        veh = obs.vehicles.sort_values("entry_time_s")
        cut = int(0.8 * len(veh))
        self._paths = path_lengths(self.topo)
        self._held = veh.iloc[cut:]
        out = {}
        for i, kind in enumerate(self.learned_kinds):
            data = extract(kind, veh.iloc[:cut], self._paths)
            self.progress(f"learning {kind}", 0, 1)
            out[kind] = train(
                kind,
                data,
                self.topo.origins,
                self.sc.seed + i,
                self.sc.artificial.behaviours.learned_steps,
            )
            self.progress(f"learning {kind}", 1, 1)
        return out

    def _compare_behaviours(self, rnd: int, actual: Observation) -> dict[str, Any]:
        """Learned against parametric behaviour on observations the generators never saw."""
        from parallel.traffic.artificial.behaviours import ARRIVAL_MODELS, SPEED_MODELS
        from parallel.traffic.artificial.learned import compare, extract

        assert self.params is not None
        held = self._held if rnd == 0 else actual.vehicles
        out: dict[str, Any] = {
            "held_out": "last 20% of round 1" if rnd == 0 else f"round {rnd + 1}"
        }
        p = self.params
        for kind in self.learned_kinds:
            if kind == "arrivals":
                parametric = {o: ARRIVAL_MODELS.get("poisson")(1.0) for o in self.topo.origins}
            else:
                parametric = {
                    o: SPEED_MODELS.get("normal")(p.speed_mean_kmh, p.speed_sd_kmh)
                    for o in self.topo.origins
                }
            out[kind] = compare(
                kind,
                p.learned[kind],
                parametric,
                extract(kind, held, self._paths),
                self.sc.seed + rnd,
            )
        return out

    def imitate(self, rnd: int) -> Observation:
        assert self.params is not None
        obs = self._imitate(self.params, self.plan, rnd)
        self._save(obs, f"round{rnd + 1}.artificial")
        if self.predicted is None:  # round 1: the prior's prediction, made before adapting
            self.predicted = dict(obs.kpis)
        return obs

    def judge(self, rnd: int, actual: Observation, artificial: Observation) -> dict[str, Any]:
        rng = np.random.default_rng(self._seed(Stage.JUDGE, rnd))
        verdict = judge(actual, artificial, self.sc.judge, rng)
        obj = self.sc.calibration.objective
        return {
            "control": self.plan.model_dump(mode="json") | {"label": self.plan.label()},
            "actual_kpis": actual.kpis,
            "artificial_kpis": artificial.kpis,
            "predicted_kpis": self.predicted,
            "verdict": verdict.table().to_dict(orient="records"),
            "headline": verdict.headline(),
            "discrepancy": {
                "objective": dict(obj),
                "before": discrepancy(obj, actual, artificial, self.sc.judge, self.sc.seed),
            },
            "behaviours": self._compare_behaviours(rnd, actual) if self.learned_kinds else None,
        }

    def adapt(self, rnd: int, actual: Observation) -> dict[str, Any]:
        assert self.params is not None
        cal = self.sc.calibration
        if not cal.enabled:
            return {"calibration": None}
        # Calibrate to every observation so far: each plan's data constrain the parameters.
        # They are pooled into one Observation per plan and judged together.
        fitted, result = self._calibrate_pooled()
        self.params = fitted
        after_obs = self._imitate(fitted, self.plan, rnd)
        after = discrepancy(cal.objective, actual, after_obs, self.sc.judge, self.sc.seed)
        return {
            "calibration": {
                "prior": result.prior,
                "fitted": result.fitted,
                "before": result.before,
                "after": result.after,
                "evaluations": result.evaluations,
                "optimizer": result.optimizer,
                "trace": result.trace,
                "observations": len(self.observed),
            },
            "discrepancy_after": after,
            "geh_share_after": geh_share(actual, after_obs, self.sc.judge.detector_interval_s),
            "saturation_flow_veh_h": self.topo.saturation_flow(fitted.saturation_headway_s),
            "artificial_kpis_after": after_obs.kpis,
        }

    def _calibrate_pooled(self) -> tuple[Params, Any]:
        """Calibrate against the latest ``calibration.window`` observations together.

        Each observation was made under its own plan; the discrepancy is the mean over
        them, so every plan's data constrain the parameters. The demand starts from the
        entry counts pooled over the same observations (more data, less noise).
        """
        assert self.params is not None
        cal = self.sc.calibration
        window = self.observed[-cal.window :]
        counts = [demand_from_counts(self.spec, o) for _, o in window]
        start = self.params
        if self.sc.artificial.params.demand == "from_counts":
            pooled = {k: float(np.mean([c[k] for c in counts])) for k in counts[0]}
            start = self.params.with_flat({f"demand.{k}": v for k, v in pooled.items()})
        return calibrate(
            self.spec,
            start,
            window,
            cal,
            self.sc.judge,
            self.sc.seed,
            executor=self.executor,
            progress=lambda k, n: self.progress("calibrate", k, n),
        )

    def act(self, rnd: int) -> dict[str, Any]:
        assert self.params is not None
        ex = self.sc.experiments
        rng = np.random.default_rng(self._seed(Stage.DESIGN, rnd))
        plans = design(ex, self.plan, self.sc.control, rng)
        if self.plan not in plans:
            plans.append(self.plan)
        incumbent = plans.index(self.plan)
        runs = run_design(
            self.spec,
            self.params,
            plans,
            ex.replications,
            self.sc.seed,
            rnd,
            self.executor,
            ex.chunk_size,
            progress=lambda k, n: self.progress("experiments", k, n),
        )
        table = summarise(runs, plans, incumbent, ex.objective)
        best = table.iloc[0]
        chosen = plans[int(best["cell"])]
        prediction = {k: float(best[k]) for k in KPI_NAMES}
        ci = {k: [float(best[f"{k}_lo"]), float(best[f"{k}_hi"])] for k in KPI_NAMES}
        self.predicted = prediction
        self.plan = chosen
        return {
            "experiments": {
                "design": ex.design,
                "cells": len(plans),
                "replications": ex.replications,
                "objective": ex.objective,
                "table": table.to_dict(orient="records"),
            },
            "chosen": chosen.model_dump(mode="json") | {"label": chosen.label()},
            "chosen_predicted_kpis": prediction,
            "chosen_ci": ci,
        }

    def finish(self) -> dict[str, Any]:
        """Apply the last chosen plan to the actual world and record what happened."""
        assert self.predicted is not None
        if not self.actual_world.actionable:
            return {
                "applied": False,
                "control": self.plan.model_dump(mode="json") | {"label": self.plan.label()},
                "note": f"the {self.actual_world.name} world cannot be acted on; "
                "the chosen plan is a recommendation",
                "params": self.params.flat() if self.params else None,
                "predicted_kpis": self.predicted,
                "actual_kpis": None,
            }
        n = len(self.observed)
        obs = self.actual_world.observe(self.plan, self._seed(Stage.ACTUAL, n))
        self._save(obs, "final.actual")
        first = self.observed[0][1].kpis
        err = {
            k: (self.predicted[k] - obs.kpis[k]) / obs.kpis[k] if obs.kpis[k] else None
            for k in KPI_NAMES
        }
        gain = {k: (obs.kpis[k] - first[k]) / first[k] if first[k] else None for k in KPI_NAMES}
        return {
            "applied": True,
            "control": self.plan.model_dump(mode="json") | {"label": self.plan.label()},
            "params": self.params.flat() if self.params else None,
            "actual_kpis": obs.kpis,
            "predicted_kpis": self.predicted,
            "prediction_error": err,
            "change_vs_round1": gain,
        }
