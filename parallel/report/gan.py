"""The report of a GAN run: the same shape as a traffic run's, read from the run folder.

Discrepancy per round (C2ST AUC, and quality or modes), the discriminator's verdict,
per-column distances, sample plots and the loss curves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from parallel.core.runfolder import RunFolder, read_yaml
from parallel.report.html import _ENV


def _plots(folder: RunFolder, ctx: dict[str, Any]) -> dict[str, str]:
    from parallel.report import plots as P

    figs: dict[str, str] = {}
    rounds = [*ctx["history"]["rounds"], {"round": "final", **ctx["history"]["final"]}]
    figs["progress"] = P.gan_progress(rounds)
    metrics = folder.path("generator/metrics.csv")
    if metrics.is_file():
        figs["losses"] = P.gan_losses(pd.read_csv(metrics))
    dd = folder.path(ctx["scenario"]["report"]["export"])
    real, fake = dd / "final.real.parquet", dd / "final.generated.parquet"
    if real.is_file() and fake.is_file():
        cols = json.loads((dd / "columns.json").read_text())
        figs["samples"] = P.gan_samples(
            pd.read_parquet(real), pd.read_parquet(fake), cols["numeric"], cols["categorical"]
        )
    return figs


def render_gan(folder: RunFolder, plots: bool = True) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.md`` for a GAN run; returns their paths."""
    ctx = {
        "history": folder.read_json("history.json"),
        "summary": folder.read_json("summary.json"),
        "run": folder.read_json("run.json"),
        "scenario": read_yaml(folder.path("scenario.resolved.yaml")),
    }
    figures = _plots(folder, ctx) if plots else {}
    html = folder.write_text(
        "report.html", _ENV.get_template("gan_report.html.j2").render(**ctx, figures=figures)
    )
    md = folder.write_text("report.md", _markdown(ctx))
    return html, md


def _markdown(ctx: dict[str, Any]) -> str:
    s, h = ctx["summary"], ctx["history"]
    lines = [
        f"# GAN run: {s['scenario']}",
        "",
        f"Seed {s['seed']}, device {s['device']}, {s['steps']} generator steps, "
        f"git {ctx['run'].get('git_revision')}.",
        "",
        "| round | step | C2ST AUC (0.5 best) | p | quality / modes | D accuracy |",
        "|---|---|---|---|---|---|",
    ]
    for r in [*h["rounds"], {"round": "final", **h["final"]}]:
        extra = (
            f"{r['quality']['quality']:.3f}"
            if "quality" in r
            else f"{r['modes']['modes']}/{r['modes']['n_modes']} modes, {100 * r['modes']['hq']:.1f}% HQ"
        )
        lines.append(
            f"| {r['round']} | {r['step']} | {r['c2st_auc']:.3f} | {r['c2st_p']:.3f} | {extra} | "
            f"{r['discriminator']['d_accuracy']:.2f} |"
        )
    fin = h["final"]
    if "modes_plain" in fin:
        keep = ctx["scenario"]["gan"]["sampling"]["keep"]
        mp = fin["modes_plain"]
        lines.append(
            f"\nSamples keep the {100 * keep:.0f}% of latent draws where the generator stretches "
            f"least (Jacobian-based truncation); plain sampling: {mp['modes']}/{mp['n_modes']} "
            f"modes, {100 * mp['hq']:.1f}% HQ."
        )
    for note in s.get("notes", []):
        lines.append(f"\nNote: {note}")
    return "\n".join(lines) + "\n"
