"""``parallel run``: a scenario in, a run folder with a report out."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from parallel.core.executors import make_executor
from parallel.core.loop import Event, History, run_loop
from parallel.core.runfolder import RunFolder, provenance
from parallel.report import render
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


def build_summary(sc: Scenario, executor: str, hist: History) -> dict[str, Any]:
    """The run's summary: identical across executors apart from ``executor`` and ``timings``."""
    truth = flat_truth(sc)
    last_cal = next((r["calibration"] for r in reversed(hist.rounds) if r.get("calibration")), None)
    fitted = last_cal["fitted"] if last_cal else {}
    rounds = [
        {
            "round": r["round"],
            "control": r["control"],
            "actual_kpis": r["actual_kpis"],
            "artificial_kpis": r["artificial_kpis"],
            "predicted_kpis": r["predicted_kpis"],
            "discrepancy": {**r["discrepancy"], "after": r.get("discrepancy_after")},
            "geh_share_after_adapt": r.get("geh_share_after"),
            "headline": r["headline"],
            "chosen": r["chosen"],
            "chosen_predicted_kpis": r["chosen_predicted_kpis"],
        }
        for r in hist.rounds
    ]
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
    folder = RunFolder.create(out_parent or Path(sc.report.dir), sc.name, sc.seed)
    folder.write_text("scenario.resolved.yaml", resolved_yaml(sc))
    ex = make_executor(kind, workers or sc.executor.workers, sc.executor.address)
    info = provenance(sc.seed, kind, ex.workers, argv)
    folder.write_json("run.json", info | {"status": "running"})
    t0 = time.perf_counter()
    try:
        machine = TrafficMachine(
            sc,
            ex,
            data_dir=folder.path(sc.report.export),
            progress=progress,
            work_dir=folder.path("sumo"),
        )
        hist = run_loop(machine, sc.loop.rounds if machine.actual_world.actionable else 1, on_event)
    except BaseException as exc:
        folder.write_json(
            "run.json", info | {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        )
        raise
    finally:
        ex.close()
    hist.timings["total_s"] = time.perf_counter() - t0
    hist.timings["executor_workers"] = ex.workers
    folder.write_json(
        "history.json", {"rounds": hist.rounds, "final": hist.final, "timings": hist.timings}
    )
    summary = build_summary(sc, kind, hist)
    folder.write_json("summary.json", summary)
    folder.write_text("metrics.csv", _metrics(hist).to_csv(index=False))
    render(folder, plots=sc.report.plots)
    folder.write_json("run.json", info | {"status": "finished", "total_s": hist.timings["total_s"]})
    return folder, summary
