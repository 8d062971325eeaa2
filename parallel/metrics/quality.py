"""The quality score for synthetic tables, exactly as docs/metrics.md defines it.

* column shapes: per column, the KS complement (numeric: 1 - max|F_real - F_syn|) or the
  TV complement (categorical: 1 - ½ Σ|R_ω - S_ω|); their mean;
* column pair trends: per pair, the correlation similarity (two numeric columns:
  1 - |ρ_real - ρ_syn| / 2, Pearson) or the contingency similarity (otherwise:
  1 - ½ Σ|P_real(a, b) - P_syn(a, b)|, a numeric column first cut into 10 bins at the
  real column's deciles); their mean over **all** pairs (SDMetrics skips pairs whose real
  correlation is weak; we keep them and say so);
* quality: the mean of the two. 1 is best for every score.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

from parallel.metrics.distances import ks_complement, tv_complement

BINS = 10


def _is_categorical(s: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)


def _ks_complement(r: pd.Series, s: pd.Series) -> float:
    """The KS complement of :mod:`parallel.metrics.distances` on the non-missing values."""
    return ks_complement(r.dropna().to_numpy(float), s.dropna().to_numpy(float))


def _binned(r: pd.Series, s: pd.Series) -> tuple[pd.Series, pd.Series]:
    edges = np.unique(np.nanquantile(r.to_numpy(float), np.linspace(0, 1, BINS + 1)[1:-1]))
    cut = lambda x: pd.Series(np.searchsorted(edges, x.to_numpy(float), "right"), index=x.index)  # noqa: E731
    return cut(r), cut(s)


def _contingency(ra: pd.Series, rb: pd.Series, sa: pd.Series, sb: pd.Series) -> float:
    pr = pd.crosstab(ra.astype(str), rb.astype(str), normalize=True).stack()
    ps = pd.crosstab(sa.astype(str), sb.astype(str), normalize=True).stack()
    keys = pr.index.union(ps.index)
    return float(
        1 - 0.5 * np.abs(pr.reindex(keys, fill_value=0) - ps.reindex(keys, fill_value=0)).sum()
    )


def quality(
    real: pd.DataFrame, synthetic: pd.DataFrame, categorical: set[str] | None = None
) -> dict[str, Any]:
    """Column shapes, column pair trends and their mean, plus every per-column and per-pair score.

    ``categorical`` names the categorical columns (default: the real table's non-numeric
    and bool columns). Rows with a missing value are left out pair by pair.

    Raises:
        ValueError: the synthetic table lacks a column of the real one.
    """
    missing = [c for c in real.columns if c not in synthetic.columns]
    if missing:
        raise ValueError(f"the synthetic table lacks the columns {missing}")
    cats = categorical if categorical is not None else {c for c in real if _is_categorical(real[c])}
    shapes = {
        c: tv_complement(real[c], synthetic[c])
        if c in cats
        else _ks_complement(real[c], synthetic[c])
        for c in real.columns
    }
    pairs: dict[str, float] = {}
    for a, b in itertools.combinations(real.columns, 2):
        if a not in cats and b not in cats:
            rr = real[[a, b]].dropna().to_numpy(float)
            ss = synthetic[[a, b]].dropna().to_numpy(float)
            rho_r = np.corrcoef(rr.T)[0, 1] if len(rr) > 1 else 0.0
            rho_s = np.corrcoef(ss.T)[0, 1] if len(ss) > 1 else 0.0
            rho_s = 0.0 if np.isnan(rho_s) else rho_s
            pairs[f"{a}|{b}"] = float(1 - abs(rho_r - rho_s) / 2)
            continue
        ra, rb, sa, sb = real[a], real[b], synthetic[a], synthetic[b]
        if a not in cats:
            ra, sa = _binned(ra, sa)
        if b not in cats:
            rb, sb = _binned(rb, sb)
        pairs[f"{a}|{b}"] = _contingency(ra, rb, sa, sb)
    shape = float(np.mean(list(shapes.values())))
    trend = float(np.mean(list(pairs.values()))) if pairs else shape
    return {
        "quality": (shape + trend) / 2,
        "column_shapes": shape,
        "column_pair_trends": trend,
        "shapes": shapes,
        "pairs": pairs,
        "note": "all column pairs kept (SDMetrics skips weakly correlated ones)",
    }
