"""One run-folder routine for every parallel machine (traffic, city, GAN).

:func:`run_machine` creates the run folder, records provenance and the resolved scenario,
drives :func:`parallel.core.loop.run_loop`, and writes ``history.json``, ``summary.json``,
``metrics.csv`` and the report. What differs between machines comes in as
:class:`Hooks`: the summary, the metrics table and the report. ``run.json`` says
``running``, then ``finished``, ``failed`` with the error, or ``interrupted`` (Ctrl-C or
SIGTERM), so a folder is never left looking complete, or still running, when it is not.

A machine that can write its state down (:class:`~parallel.core.loop.Resumable`) gets
``checkpoint.json`` after every round, written atomically; :func:`run_machine` with
``resume`` continues such a folder from the round after its last checkpoint, with the
same scenario (``parallel run SCENARIO --resume RUN_DIR``). The folder is locked while a
run writes into it.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from parallel.core.errors import UserInputError
from parallel.core.loop import Event, History, Machine, Resumable, run_loop
from parallel.core.outdir import locked
from parallel.core.runfolder import RunFolder

CHECKPOINT = "checkpoint.json"
#: where a machine keeps the files its checkpoint names (tables too large for JSON)
CHECKPOINT_DIR = "checkpoint"
RESOLVED = "scenario.resolved.yaml"


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
    resume: Path | None = None,
) -> tuple[RunFolder, dict[str, Any]]:
    """Run a machine through the loop inside a new run folder (or, with ``resume``, on
    in an interrupted one from its last checkpoint).

    Args:
        info: provenance for ``run.json`` (seed, executor, versions, command...).
        build: makes the machine, given the folder (for its data and work files).
        rounds: how many rounds for that machine.
        cleanup: called however the loop ends, with whether it was interrupted (closes
            executors; an interrupt stops their workers at once).
        resume: the folder of an interrupted run of the same scenario.

    Raises:
        UserInputError: ``resume`` is not a folder that can be continued (see
            :func:`resumable`), or another command is writing into it.
        Whatever the machine raises; ``run.json`` then says ``failed`` and why.
    """
    if resume is None:
        folder = RunFolder.create(out_parent, name, seed)
        folder.write_text(RESOLVED, resolved_yaml)
        saved = None
    else:
        folder, saved = RunFolder(resume), resumable(resume, resolved_yaml)
    # the run folder is locked while this run writes into it: a --resume of a run that
    # is still going exits 2 at once
    with locked(folder.root, f"--resume {resume}" if resume else str(folder.root)):
        return _run_in(folder, saved, info, build, rounds, hooks, on_event, cleanup)


def _run_in(
    folder: RunFolder,
    saved: dict[str, Any] | None,
    info: dict[str, Any],
    build: Callable[[RunFolder], Machine],
    rounds: Callable[[Machine], int],
    hooks: Hooks,
    on_event: Event | None,
    cleanup: Callable[[bool], None] | None,
) -> tuple[RunFolder, dict[str, Any]]:
    """:func:`run_machine` inside its (locked) folder; ``saved`` is the checkpoint to go
    on from, if any."""
    if saved is not None:
        info = info | {"resumed_after_round": len(saved["rounds"])}
    folder.write_json("run.json", info | {"status": "running"})
    t0 = time.perf_counter()
    aborted = False
    try:
        machine = build(folder)
        start, keep = None, None
        if isinstance(machine, Resumable):
            m: Resumable = machine

            def keep(h: History) -> None:
                folder.write_json(
                    CHECKPOINT, {"rounds": h.rounds, "timings": h.timings, "state": m.state()}
                )

            if saved is not None:
                m.restore(saved["state"])
                start = History(rounds=saved["rounds"], timings=saved["timings"])
        hist = run_loop(machine, rounds(machine), on_event, start=start, checkpoint=keep)
    except BaseException as exc:
        aborted = isinstance(exc, KeyboardInterrupt)  # Ctrl-C, or SIGTERM (the CLI's handler)
        status = "interrupted" if aborted else "failed"
        folder.write_json(
            "run.json", info | {"status": status, "error": f"{type(exc).__name__}: {exc}"}
        )
        if (folder.root / CHECKPOINT).is_file():
            exc.add_note(f"its finished rounds are kept: go on with --resume {folder.root}")
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
    # a finished run is not continued: its checkpoint would only repeat data/ and history
    (folder.root / CHECKPOINT).unlink(missing_ok=True)
    shutil.rmtree(folder.root / CHECKPOINT_DIR, ignore_errors=True)
    return folder, summary


def flat_keys(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as dotted keys, so that a mismatch names the very field (the resume
    checks of `parallel run` and `parallel fidelity` both use it)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flat_keys(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def resumable(run_dir: Path, resolved_yaml: str) -> dict[str, Any]:
    """The checkpoint of an interrupted run that this scenario may continue.

    The scenario must be the one the folder ran, apart from where the runs go
    (``executor``: every executor gives the same numbers).

    Raises:
        UserInputError: not a run folder, a finished run, no round finished yet (start it
            again instead), or another scenario (naming the first field that differs).
    """
    what = f"--resume {run_dir}"
    if not (run_dir / "run.json").is_file() or not (run_dir / RESOLVED).is_file():
        raise UserInputError(f"{what}: not a run folder; give the folder `parallel run` made")
    status = json.loads((run_dir / "run.json").read_text()).get("status")
    if status == "finished":
        raise UserInputError(f"{what}: that run finished; there is nothing to continue")
    if not (run_dir / CHECKPOINT).is_file():
        raise UserInputError(
            f"{what}: no round of that run finished (or its scenario kind keeps no "
            "checkpoint: only city scenarios do); run the scenario again without --resume"
        )
    old = flat_keys(yaml.safe_load((run_dir / RESOLVED).read_text()))
    new = flat_keys(yaml.safe_load(resolved_yaml))
    differ = sorted(
        k for k in old.keys() | new.keys()
        if not k.startswith("executor.") and old.get(k) != new.get(k)
    )  # fmt: skip
    if differ:
        k = differ[0]
        raise UserInputError(
            f"{what}: the scenario differs from the run's at {k!r} ({old.get(k)!r} there, "
            f"{new.get(k)!r} now); resume with the settings it ran with"
        )
    saved: dict[str, Any] = json.loads((run_dir / CHECKPOINT).read_text())
    return saved
