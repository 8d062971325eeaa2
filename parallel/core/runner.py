"""One run-folder routine for every parallel machine (traffic, city, GAN).

:func:`run_machine` creates the run folder, records provenance and the resolved scenario,
drives :func:`parallel.core.loop.run_loop`, and writes ``history.json``, ``summary.json``,
``metrics.csv`` and the report. What differs between machines comes in as
:class:`Hooks`: the summary, the metrics table and the report. ``run.json`` says
``running``, then ``finished``, ``failed`` with the error, or ``interrupted`` (Ctrl-C or
SIGTERM), so a folder is never left looking complete, or still running, when it is not.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from parallel.core.loop import Event, History, Machine, run_loop
from parallel.core.runfolder import RunFolder


def _nothing(machine: Any, folder: RunFolder) -> None:
    return None


@dataclass
class Hooks:
    """What a machine's run adds to the shared routine."""

    summary: Callable[[Any, History], dict[str, Any]]
    """The machine and its history -> ``summary.json``."""
    metrics: Callable[[History], pd.DataFrame]
    """The history -> ``metrics.csv`` (one row per score per round)."""
    render: Callable[[RunFolder], Any]
    """Writes the report into the finished folder."""
    after_loop: Callable[[Any, RunFolder], None] = _nothing
    """Extra files from the machine once the loop is done (samples, generators)."""


def run_machine(
    *,
    name: str,
    seed: int,
    out_parent: Path,
    resolved_yaml: str,
    info: dict[str, Any],
    build: Callable[[RunFolder], Machine],
    rounds: Callable[[Machine], int],
    hooks: Hooks,
    on_event: Event | None = None,
    cleanup: Callable[[bool], None] | None = None,
) -> tuple[RunFolder, dict[str, Any]]:
    """Run a machine through the loop inside a new run folder.

    Args:
        info: provenance for ``run.json`` (seed, executor, versions, command...).
        build: makes the machine, given the folder (for its data and work files).
        rounds: how many rounds for that machine.
        cleanup: called however the loop ends, with whether it was interrupted (closes
            executors; an interrupt stops their workers at once).

    Raises:
        Whatever the machine raises; ``run.json`` then says ``failed`` and why.
    """
    folder = RunFolder.create(out_parent, name, seed)
    folder.write_text("scenario.resolved.yaml", resolved_yaml)
    folder.write_json("run.json", info | {"status": "running"})
    t0 = time.perf_counter()
    aborted = False
    try:
        machine = build(folder)
        hist = run_loop(machine, rounds(machine), on_event)
    except BaseException as exc:
        aborted = isinstance(exc, KeyboardInterrupt)  # Ctrl-C, or SIGTERM (the CLI's handler)
        status = "interrupted" if aborted else "failed"
        folder.write_json(
            "run.json", info | {"status": status, "error": f"{type(exc).__name__}: {exc}"}
        )
        raise
    finally:
        if cleanup is not None:
            cleanup(aborted)
    hist.timings["total_s"] = time.perf_counter() - t0
    hooks.after_loop(machine, folder)
    folder.write_json(
        "history.json", {"rounds": hist.rounds, "final": hist.final, "timings": hist.timings}
    )
    summary = hooks.summary(machine, hist)
    folder.write_json("summary.json", summary)
    folder.write_text("metrics.csv", hooks.metrics(hist).to_csv(index=False))
    hooks.render(folder)
    folder.write_json("run.json", info | {"status": "finished", "total_s": hist.timings["total_s"]})
    return folder, summary
