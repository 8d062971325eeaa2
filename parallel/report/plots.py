"""Plots for the report, drawn with matplotlib (Agg) and returned as base64 PNG."""

from __future__ import annotations

import base64
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def distributions(actual: pd.DataFrame, artificial: pd.DataFrame) -> str:
    """Histograms of travel time and delay, and a QQ plot of travel time."""
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
    for i, col in enumerate(("travel_time_s", "delay_s")):
        a, s = actual[col].to_numpy(float), artificial[col].to_numpy(float)
        bins = np.linspace(0, np.percentile(np.r_[a, s], 99.5), 40)
        ax[i].hist(a, bins, density=True, alpha=0.55, label="actual")
        ax[i].hist(s, bins, density=True, alpha=0.55, label="artificial")
        ax[i].set_xlabel(col)
        ax[i].legend()
    q = np.linspace(0.01, 0.99, 99)
    qa = np.quantile(actual["travel_time_s"], q)
    qs = np.quantile(artificial["travel_time_s"], q)
    ax[2].plot(qa, qs, ".")
    lim = [min(qa.min(), qs.min()), max(qa.max(), qs.max())]
    ax[2].plot(lim, lim, "k--", lw=1)
    ax[2].set_xlabel("actual travel time quantile, s")
    ax[2].set_ylabel("artificial quantile, s")
    ax[2].set_title("QQ plot")
    return _png(fig)


def counts(actual: pd.DataFrame, artificial: pd.DataFrame) -> str:
    """Total count per detector, actual against artificial."""
    a = actual.groupby("link")["count"].sum()
    s = artificial.groupby("link")["count"].sum().reindex(a.index, fill_value=0)
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(a)), 3.6))
    x = np.arange(len(a))
    ax.bar(x - 0.2, a.to_numpy(), 0.4, label="actual")
    ax.bar(x + 0.2, s.to_numpy(), 0.4, label="artificial")
    ax.set_xticks(x, a.index, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("vehicles counted")
    ax.legend()
    return _png(fig)


def convergence(rounds: list[dict[str, Any]], final: dict[str, Any], objective: str) -> str:
    """Discrepancy per round, and the actual KPI with the artificial prediction and its CI."""
    r = [x["round"] for x in rounds]
    fig, ax = plt.subplots(1, 2, figsize=(12, 3.6))
    before = [x["discrepancy"]["before"] for x in rounds]
    after = [x.get("discrepancy_after") for x in rounds]
    ax[0].plot(r, before, "o-", label="before adapt")
    if all(v is not None for v in after):
        ax[0].plot(r, after, "s--", label="after adapt")
    ax[0].set_xlabel("round")
    ax[0].set_ylabel("discrepancy (lower is better)")
    ax[0].legend()
    actual = [x["actual_kpis"][objective] for x in rounds]
    pred = [x["predicted_kpis"][objective] for x in rounds]
    ax[1].plot(r, actual, "o-", label="actual")
    ax[1].plot(r, pred, "s--", label="predicted before applying")
    ci = [x["chosen_ci"][objective] for x in rounds]
    nxt = [v + 1 for v in r]
    ax[1].errorbar(
        nxt,
        [x["chosen_predicted_kpis"][objective] for x in rounds],
        yerr=np.abs(np.array(ci).T - [x["chosen_predicted_kpis"][objective] for x in rounds]),
        fmt="none",
        ecolor="grey",
        capsize=4,
        label="95% CI of chosen plan",
    )
    if final.get("actual_kpis"):
        ax[1].plot([len(r) + 1], [final["actual_kpis"][objective]], "D", label="applied (final)")
    ax[1].set_xlabel("round (the last point is the final application)")
    ax[1].set_ylabel(objective)
    ax[1].legend(fontsize=8)
    for a in ax:
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _png(fig)


def calibration_trace(rounds: list[dict[str, Any]]) -> str:
    fig, ax = plt.subplots(figsize=(7, 3.4))
    for x in rounds:
        cal = x.get("calibration")
        if not cal:
            continue
        d = np.array([t["discrepancy"] for t in cal["trace"]])
        ax.plot(np.arange(1, len(d) + 1), np.minimum.accumulate(d), label=f"round {x['round']}")
    ax.set_xlabel("evaluation")
    ax.set_ylabel("best discrepancy so far")
    ax.legend()
    return _png(fig)


def response(table: pd.DataFrame, objective: str) -> str:
    """The objective over the design: one line per main-street split, cycle on the x axis."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for split, sub in table.sort_values("cycle_s").groupby("split_main"):
        y = sub[objective].to_numpy()
        err = np.vstack(
            [y - sub[f"{objective}_lo"].to_numpy(), sub[f"{objective}_hi"].to_numpy() - y]
        )
        ax.errorbar(
            sub["cycle_s"], y, yerr=np.abs(err), marker="o", capsize=3, label=f"split {split:.2f}"
        )
    ax.set_xlabel("cycle, s")
    ax.set_ylabel(f"{objective} (mean, 95% CI)")
    ax.legend(fontsize=8)
    return _png(fig)
