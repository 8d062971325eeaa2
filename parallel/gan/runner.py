"""``parallel run`` for GAN scenarios: the loop, the run folder and the report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from parallel.core.loop import Event, History
from parallel.core.runfolder import RunFolder, provenance
from parallel.core.runner import Hooks, run_machine
from parallel.gan.machine import GanMachine
from parallel.gan.scenario import GanScenario, train_config


def resolved_yaml(sc: GanScenario) -> str:
    """The scenario with every default filled in (the trainer's resolved too), as YAML."""
    data = sc.model_dump(mode="json", exclude={"source_dir"})
    data["gan"]["train"] = train_config(sc).model_dump(mode="json")
    if sc.gan.data.file is not None:
        data["gan"]["data"]["file"] = str((Path(sc.source_dir) / sc.gan.data.file).resolve())
    return yaml.safe_dump(data, sort_keys=False)


def _metrics(rounds: list[dict[str, Any]], final: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for r in [*rounds, {"round": "final", **final}]:
        row: dict[str, Any] = {
            "round": r["round"],
            "step": r["step"],
            "c2st_auc": r["c2st_auc"],
            "c2st_p": r["c2st_p"],
            **r["discriminator"],
        }
        if "quality" in r:
            row.update(r["quality"])
        if "modes" in r:
            row.update({"modes": r["modes"]["modes"], "hq": r["modes"]["hq"]})
        if r.get("adapt"):
            row.update({k: r["adapt"].get(k) for k in ("d_loss", "g_loss", "seconds")})
        rows.append(row)
    return pd.DataFrame(rows)


def run_gan(
    sc: GanScenario,
    out_parent: Path | None = None,
    device: str = "auto",
    on_event: Event | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    argv: list[str] | None = None,
) -> tuple[RunFolder, dict[str, Any]]:
    """Run a GAN scenario through the loop; returns the run folder and the summary.

    Raises:
        UserInputError: a bad data file.
        RunError: a failure while training (divergence included).
    """
    from parallel.report.gan import render_gan

    info = provenance(sc.seed, "in-process", 1, argv) | {"kind": "gan"}

    def build(folder: RunFolder) -> GanMachine:
        machine = GanMachine(sc, folder.root, device, progress)
        info["device"] = str(machine.trainer.device)
        return machine

    def summary(machine: GanMachine, hist: History) -> dict[str, Any]:
        first, fin = hist.rounds[0], hist.final
        return {
            "scenario": sc.name,
            "kind": "gan",
            "seed": sc.seed,
            "device": info["device"],
            "data": machine.source,
            "notes": machine.encoder.notes if machine.encoder is not None else [],
            "steps": machine.trainer.step,
            "c2st_auc": {"first": first["c2st_auc"], "final": fin["c2st_auc"]},
            "quality": {"first": first.get("quality"), "final": fin.get("quality")},
            "modes": {"first": first.get("modes"), "final": fin.get("modes")},
            "modes_plain": fin.get("modes_plain"),
            "sampling_keep": sc.gan.sampling.keep,
            "generator": str(machine.gen_dir),
        }

    hooks = Hooks(
        summary=summary,
        metrics=lambda hist: _metrics(hist.rounds, hist.final),
        render=lambda folder: render_gan(folder, plots=sc.report.plots),
        after_loop=lambda m, folder: m.export_samples(folder.path(sc.report.export)),
    )
    return run_machine(
        name=sc.name,
        seed=sc.seed,
        out_parent=out_parent or Path(sc.report.dir),
        resolved_yaml=resolved_yaml(sc),
        info=info,
        build=build,
        rounds=lambda m: sc.loop.rounds,
        hooks=hooks,
        on_event=on_event,
    )
