"""The report of ``parallel fidelity``: predicted against measured, rankings, GEH."""

from __future__ import annotations

from typing import Any

import numpy as np

from parallel.report.html import _ENV
from parallel.report.plots import _png, plt


def _scatter(r: dict[str, Any], worlds: list[str]) -> str:
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.4))
    for i, k in enumerate(("mean_delay_s", "mean_travel_time_s")):
        meas = np.array([row["actual"][k]["mean"] for row in r["plans"]])
        lim = [meas.min(), meas.max()]
        for w in worlds:
            pred = np.array([row[w][k]["mean"] for row in r["plans"]])
            err = np.array([row[w][k]["se"] for row in r["plans"]])
            ax[i].errorbar(meas, pred, yerr=err, fmt="o", label=w, alpha=0.8)
            lim = [min(lim[0], pred.min()), max(lim[1], pred.max())]
        ax[i].plot(lim, lim, "k--", lw=1, label="identity")
        ax[i].set_xlabel(f"measured in SUMO: {k}")
        ax[i].set_ylabel("predicted")
        ax[i].legend()
    return _png(fig)


def _geh(counts: dict[str, Any]) -> str:
    fig, ax = plt.subplots(figsize=(5.5, 4.4))
    c = np.asarray(counts["actual"], float)
    for w, m in counts.items():
        if w == "actual":
            continue
        ax.plot(c, np.asarray(m, float), ".", alpha=0.6, label=w)
    hi = max(1.0, c.max())
    x = np.linspace(0, hi, 100)
    ax.plot(x, x, "k--", lw=1)
    # GEH = 5 band around the identity line, on hourly flows
    band = 5 * np.sqrt(x)  # (M - C)^2 = 12.5 (M + C) with M ~ C = x
    ax.fill_between(x, np.maximum(x - band, 0), x + band, color="grey", alpha=0.15, label="GEH < 5")
    ax.set_xlabel("SUMO flow per edge-interval, veh/h")
    ax.set_ylabel("predicted flow, veh/h")
    ax.legend()
    return _png(fig)


def render_fidelity(r: dict[str, Any], counts: dict[str, Any]) -> str:
    """The HTML page of ``fidelity.json`` (``counts``: hourly flows per edge-interval of the
    incumbent plan, per world)."""
    worlds = [w for w in ("artificial", "meso", "meso_estimated") if w in r["kendall_tau"]]
    all_worlds = ["actual", *worlds]
    ranks = {
        w: [
            row["label"]
            for row in sorted(r["plans"], key=lambda row: row[w]["mean_delay_s"]["mean"])
        ]
        for w in all_worlds
    }
    figures = {"scatter": _scatter(r, worlds), "geh": _geh(counts)}
    return _ENV.get_template("fidelity.html.j2").render(
        r=r,
        worlds=worlds,
        all_worlds=all_worlds,
        ranks=ranks,
        figures=figures,
        kpis=list(r["mean_abs_rel_error"][worlds[0]]) if worlds else [],
        wall_names={"actual": "sumo"},
    )
