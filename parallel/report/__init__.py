"""Reports: HTML (self-contained, plots inline) and Markdown, rendered from a run folder.

Everything is read back from the folder (``history.json``, ``summary.json``,
``run.json`` and the observation tables), so ``parallel report RUN_DIR`` re-renders a
finished run without running anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from parallel.core.errors import DataError
from parallel.core.runfolder import RunFolder, read_yaml
from parallel.report.html import render_html
from parallel.report.markdown import render_markdown


def load_run(folder: RunFolder) -> dict[str, Any]:
    """Read what a report needs from a run folder.

    Raises:
        DataError: the folder is not a finished run folder.
    """
    need = ("history.json", "summary.json", "run.json", "scenario.resolved.yaml")
    missing = [n for n in need if not folder.path(n).is_file()]
    if missing:
        raise DataError(
            f"{folder.root}: not a finished run folder (missing {', '.join(missing)}); "
            "give a folder written by `parallel run`"
        )
    scenario = read_yaml(folder.path("scenario.resolved.yaml"))
    ctx = {
        "history": folder.read_json("history.json"),
        "summary": folder.read_json("summary.json"),
        "run": folder.read_json("run.json"),
        "scenario": scenario,
        "data_dir": folder.path(scenario.get("report", {}).get("export", "data")),
    }
    return ctx


def _table(data_dir: Path, stem: str) -> pd.DataFrame | None:
    p = data_dir / f"{stem}.parquet"
    return pd.read_parquet(p) if p.is_file() else None


def render(folder: RunFolder, plots: bool | None = None) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.md``; returns their paths.

    ``plots`` defaults to the scenario's ``report.plots``.
    """
    ctx = load_run(folder)
    if plots is None:
        plots = bool(ctx["scenario"].get("report", {}).get("plots", True))
    figures: dict[str, str] = {}
    if plots:
        from parallel.report import plots as P

        rounds = ctx["history"]["rounds"]
        last = rounds[-1]["round"]
        dd = ctx["data_dir"]
        av, sv = (
            _table(dd, f"round{last}.actual.vehicles"),
            _table(dd, f"round{last}.artificial.vehicles"),
        )
        ad, sd = (
            _table(dd, f"round{last}.actual.detectors"),
            _table(dd, f"round{last}.artificial.detectors"),
        )
        if av is not None and sv is not None and len(av) and len(sv):
            figures["distributions"] = P.distributions(av, sv)
        if ad is not None and sd is not None:
            figures["counts"] = P.counts(ad, sd)
        objective = rounds[0]["experiments"]["objective"]
        figures["convergence"] = P.convergence(rounds, ctx["history"]["final"], objective)
        if any(r.get("calibration") for r in rounds):
            figures["calibration"] = P.calibration_trace(rounds)
        figures["response"] = P.response(
            pd.DataFrame(rounds[-1]["experiments"]["table"]), objective
        )
    html = folder.write_text("report.html", render_html(ctx, figures))
    md = folder.write_text("report.md", render_markdown(ctx))
    return html, md
