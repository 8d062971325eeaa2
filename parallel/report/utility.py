"""The report of ``parallel evaluate table``: every arm beside every baseline, and the curve."""

from __future__ import annotations

from typing import Any

from parallel.report.html import _ENV
from parallel.report.plots import _png, plt


def _curve(m: dict[str, Any], metric: str) -> str | None:
    """Accuracy (or AUC) of the logistic model against real rows per class, per arm kind."""
    if not m["curve"]:
        return None
    points = {**m["curve"], "all": m["results"]}
    sizes = sorted(int(k.split("_")[0]) for k in m["curve"])
    xs = [*sizes, max(sizes) + max(1, max(sizes) // 2)]
    ratio = 1.0 if 1.0 in m["ratios"] else m["ratios"][0]
    arms = ["real_only", f"real+synthetic x{ratio:g}", f"smote x{ratio:g}", f"noise x{ratio:g}"]
    fig, ax = plt.subplots(figsize=(7, 4.4))
    keys = [f"{k}_per_class" for k in sizes] + ["all"]
    for arm in arms:
        if arm not in m["results"]:
            continue
        mean = [points[k][arm][f"logistic:{metric}"]["mean"] for k in keys]
        se = [points[k][arm][f"logistic:{metric}"]["se"] for k in keys]
        ax.errorbar(xs, mean, yerr=se, marker="o", capsize=3, label=arm)
    ax.set_xticks(xs, [*map(str, sizes), "all"])
    ax.set_xlabel("real rows per class")
    ax.set_ylabel(f"held-out {metric} (logistic regression)")
    ax.legend()
    return _png(fig)


def render_utility(m: dict[str, Any]) -> str:
    """``report.html`` of ``parallel evaluate table``."""
    return _ENV.get_template("utility.html.j2").render(
        m=m,
        curve=_curve(m, "accuracy"),
        keys=[f"{c}:{k}" for c in m["classifiers"] for k in m["metrics"]],
    )
