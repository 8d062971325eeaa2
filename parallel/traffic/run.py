"""``parallel run``: a scenario in, a run folder with a report out."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from parallel.core.executors import make_executor
from parallel.core.loop import Event, History
from parallel.core.runfolder import RunFolder, provenance
from parallel.core.runner import CHECKPOINT_DIR, Hooks, run_machine
from parallel.report import render
from parallel.traffic.city import CityScenario
from parallel.traffic.machine import TrafficMachine, flat_truth
from parallel.traffic.scenario import Scenario, resolved_yaml

log = logging.getLogger(__name__)


def truth_errors(fitted: dict[str, float], truth: dict[str, float]) -> dict[str, float | None]:
    """Relative error of each fitted value where the truth has the same key path.

    This lives on the reporting side on purpose: calibration never sees the truth.
    """
    return {
        k: (float((v - truth[k]) / truth[k]) if truth.get(k) else None) for k, v in fitted.items()
    }


def round_summary(r: dict[str, Any]) -> dict[str, Any]:
    """One round of ``history.json`` as ``summary.json`` gives it (traffic and city runs)."""
    return {
        "round": r["round"],
        "control": r["control"],
        "actual_kpis": r["actual_kpis"],
        "artificial_kpis": r["artificial_kpis"],
        "predicted_kpis": r["predicted_kpis"],
        "discrepancy": {**r["discrepancy"], "after": r.get("discrepancy_after")},
        "geh_share_after_adapt": r.get("geh_share_after"),
        "kpis_after_adapt": r.get("artificial_kpis_after"),
        "headline_after_adapt": r.get("headline_after"),
        "headline": r["headline"],
        "chosen": r["chosen"],
        "chosen_predicted_kpis": r["chosen_predicted_kpis"],
        "trust": r.get("trust"),
    }


def build_summary(sc: Scenario, executor: str, hist: History) -> dict[str, Any]:
    """The run's summary: identical across executors apart from ``executor`` and ``timings``."""
    truth = flat_truth(sc)
    last_cal = next((r["calibration"] for r in reversed(hist.rounds) if r.get("calibration")), None)
    fitted = last_cal["fitted"] if last_cal else {}
    rounds = [round_summary(r) for r in hist.rounds]
    return {
        "scenario": sc.name,
        "seed": sc.seed,
        "executor": executor,
        "actual_world": sc.actual.world,
        "rounds": rounds,
        "calibration": {
            "fitted": fitted,
            "truth": truth,
            "relative_error": truth_errors(fitted, truth) if truth else None,
            "note": None
            if truth is None
            else "saturation_headway_s has no true counterpart: "
            "in the reference world it emerges from car following",
        },
        "final": hist.final,
        "timings": hist.timings,
    }


def _metrics(hist: History) -> pd.DataFrame:
    rows = []
    for r in hist.rounds:
        for s in r["verdict"]:
            rows.append({"round": r["round"], **s})
        for side in ("actual_kpis", "artificial_kpis", "predicted_kpis"):
            for k, v in (r.get(side) or {}).items():
                rows.append(
                    {
                        "round": r["round"],
                        "metric": side.removesuffix("_kpis"),
                        "subject": k,
                        "value": v,
                        "scale": "KPI units",
                        "better": "",
                        "p_value": None,
                    }
                )
    return pd.DataFrame(rows)


def run_scenario(
    sc: Scenario,
    out_parent: Path | None = None,
    executor: str | None = None,
    workers: int | None = None,
    on_event: Event | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    argv: list[str] | None = None,
) -> tuple[RunFolder, dict[str, Any]]:
    """Run a scenario end to end; returns the run folder and the summary.

    Raises:
        UserInputError: bad input discovered late (a replay file, an executor address).
        RunError: a failure while running.
    """
    kind = executor or sc.executor.kind
    ex = make_executor(kind, workers or sc.executor.workers, sc.executor.address)

    def build(folder: RunFolder) -> TrafficMachine:
        return TrafficMachine(
            sc, ex, folder.path(sc.report.export), progress, work_dir=folder.path("sumo")
        )

    def summary(machine: TrafficMachine, hist: History) -> dict[str, Any]:
        hist.timings["executor_workers"] = ex.workers
        return build_summary(sc, kind, hist)

    hooks = Hooks(summary, _metrics, lambda folder: render(folder, plots=sc.report.plots))
    return run_machine(
        name=sc.name,
        seed=sc.seed,
        out_parent=out_parent or Path(sc.report.dir),
        resolved_yaml=resolved_yaml(sc),
        info=provenance(sc.seed, kind, ex.workers, argv),
        build=build,
        # a world that cannot be acted on (replayed logs) is observed once
        rounds=lambda m: sc.loop.rounds if m.actual_world.actionable else 1,  # type: ignore[attr-defined]
        hooks=hooks,
        on_event=on_event,
        cleanup=lambda abort: ex.close(abort=abort),
    )


def run_city(
    sc: CityScenario,
    out_parent: Path | None = None,
    executor: str | None = None,
    workers: int | None = None,
    on_event: Event | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    argv: list[str] | None = None,
    resume: Path | None = None,
) -> tuple[RunFolder, dict[str, Any]]:
    """The closed loop on a real network (a city scenario); the same folder and report
    layout as :func:`run_scenario`. Every round is checkpointed; ``resume`` continues an
    interrupted run's folder from the round after its last checkpoint, with the numbers
    an uninterrupted run gives.

    Raises:
        UserInputError: bad input discovered late, or a ``resume`` folder that cannot be
            continued.
        RunError: a failure while running (SUMO, for instance).
    """
    import yaml

    from parallel.traffic.citymachine import CityMachine

    kind = executor or sc.executor.kind
    ex = make_executor(kind, workers or sc.executor.workers, sc.executor.address)

    def build(folder: RunFolder) -> CityMachine:
        return CityMachine(
            sc, ex, folder.path(sc.report.export), progress, folder.path("sumo"),
            checkpoint_dir=folder.path(CHECKPOINT_DIR),
        )  # fmt: skip

    def summary(machine: CityMachine, hist: History) -> dict[str, Any]:
        last: dict[str, Any] = next(
            (r["calibration"] for r in reversed(hist.rounds) if r.get("calibration")), {}
        )
        keys = last.get("parameters", [])
        return {
            "scenario": sc.name,
            "seed": sc.seed,
            "executor": kind,
            "actual_world": "sumo" if sc.sumo.replay is None else "recorded sumo",
            "rounds": [round_summary(r) for r in hist.rounds],
            "calibration": {
                "fitted": {k: last["fitted"][k] for k in keys} if last else {},
                "truth": None,
                "relative_error": None,
                "note": "the trip file is hidden truth; demand was estimated from counts and "
                "probes, and these behaviour parameters were calibrated",
            },
            "final": hist.final,
            "timings": hist.timings,
        }

    data = sc.model_dump(mode="json", exclude={"source_dir"})
    data["sumo"]["config"] = str(sc.sumocfg)
    if sc.replay_dir is not None:
        data["sumo"]["replay"] = str(sc.replay_dir)
    hooks = Hooks(summary, _metrics, lambda folder: render(folder, plots=sc.report.plots))
    return run_machine(
        name=sc.name,
        seed=sc.seed,
        out_parent=out_parent or Path(sc.report.dir),
        resolved_yaml=yaml.safe_dump(data, sort_keys=False),
        info=provenance(sc.seed, kind, ex.workers, argv) | {"kind": "city"},
        build=build,
        # a recording cannot be acted on: it is observed once
        rounds=lambda m: sc.loop.rounds if m.actual_world.actionable else 1,  # type: ignore[attr-defined]
        hooks=hooks,
        on_event=on_event,
        cleanup=lambda abort: ex.close(abort=abort),
        resume=resume,
    )
