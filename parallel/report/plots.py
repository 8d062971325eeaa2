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
    # one replication has no interval: NaN, stored in JSON as null
    ci = np.array([x["chosen_ci"][objective] for x in rounds], dtype=float)
    nxt = [v + 1 for v in r]
    ax[1].errorbar(
        nxt,
        [x["chosen_predicted_kpis"][objective] for x in rounds],
        yerr=np.abs(ci.T - [x["chosen_predicted_kpis"][objective] for x in rounds]),
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
    """The objective over the design: one line per main-street split, cycle on the x axis
    (plans without those factors, such as re-timings of a real network: one bar each)."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    if "cycle_s" not in table:
        t = table.sort_values(objective)
        y = t[objective].to_numpy()
        err = np.abs(np.vstack([y - t[f"{objective}_lo"], t[f"{objective}_hi"] - y]))
        ax.barh(t["plan"].astype(str), y, xerr=err, color="tab:blue", alpha=0.7)
        ax.set_xlabel(f"{objective} (mean, 95% CI)")
        ax.invert_yaxis()
        return _png(fig)
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


def gan_progress(rounds: list[dict[str, Any]]) -> str:
    """C2ST AUC and quality (or modes and HQ share) against the training step."""
    steps = [r["step"] for r in rounds]
    fig, ax = plt.subplots(1, 2, figsize=(11, 3.4))
    ax[0].plot(steps, [r["c2st_auc"] for r in rounds], "o-")
    ax[0].axhline(0.5, color="k", ls="--", lw=1)
    ax[0].set_xlabel("generator step")
    ax[0].set_ylabel("C2ST AUC (0.5 best)")
    if "quality" in rounds[0]:
        for key in ("quality", "column_shapes", "column_pair_trends"):
            ax[1].plot(steps, [r["quality"][key] for r in rounds], "o-", label=key)
        ax[1].set_ylabel("score (1 best)")
        ax[1].legend()
    else:
        ax[1].plot(steps, [r["modes"]["modes"] for r in rounds], "o-", label="modes")
        ax2 = ax[1].twinx()
        ax2.plot(steps, [100 * r["modes"]["hq"] for r in rounds], "s-", color="C1", label="HQ %")
        ax[1].set_ylabel("modes captured")
        ax2.set_ylabel("high-quality %")
    ax[1].set_xlabel("generator step")
    return _png(fig)


def gan_losses(metrics: pd.DataFrame) -> str:
    """The trainer's d_loss and g_loss over steps."""
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.plot(metrics["step"], metrics["d_loss"], label="d_loss")
    ax.plot(metrics["step"], metrics["g_loss"], label="g_loss")
    ax.set_xlabel("generator step")
    ax.legend()
    return _png(fig)


def gan_samples(
    real: pd.DataFrame, fake: pd.DataFrame, numeric: list[str], categorical: list[str]
) -> str:
    """A scatter for 2-D toys; otherwise one panel per column (histogram or bars)."""
    if list(real.columns) == ["x", "y"]:
        fig, ax = plt.subplots(1, 2, figsize=(9, 4.2), sharex=True, sharey=True)
        ax[0].scatter(real["x"], real["y"], s=2, alpha=0.4)
        ax[0].set_title("real")
        ax[1].scatter(fake["x"], fake["y"], s=2, alpha=0.4, color="C1")
        ax[1].set_title("generated")
        return _png(fig)
    cols = (numeric + categorical)[:12]
    n = len(cols)
    ncol = min(4, n)
    nrow = -(-n // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.6 * nrow), squeeze=False)
    for ax, c in zip(axes.flat, cols):
        if c in numeric:
            a, s = real[c].dropna().to_numpy(float), fake[c].dropna().to_numpy(float)
            lo, hi = np.percentile(np.r_[a, s], [0.5, 99.5])
            bins = np.linspace(lo, hi, 40)
            ax.hist(a, bins, density=True, alpha=0.55, label="real")
            ax.hist(s, bins, density=True, alpha=0.55, label="generated")
        else:
            fr = real[c].astype(str).value_counts(normalize=True)
            fs = fake[c].astype(str).value_counts(normalize=True).reindex(fr.index, fill_value=0)
            x = np.arange(min(len(fr), 12))
            ax.bar(x - 0.2, fr.to_numpy()[: len(x)], 0.4, label="real")
            ax.bar(x + 0.2, fs.to_numpy()[: len(x)], 0.4, label="generated")
            ax.set_xticks(x, fr.index[: len(x)], rotation=45, ha="right", fontsize=7)
        ax.set_title(c, fontsize=9)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)
