"""Distances between two samples of one column. Definitions: ``docs/metrics.md``.

Every function says its scale and direction: the KS and TV *complements* are in
[0, 1] with 1 best; Wasserstein-1 is in the column's units and MMD² in [0, 2], 0 best.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def ks_statistic(real: np.ndarray, syn: np.ndarray) -> float:
    """max|F_real - F_syn| (0 is best)."""
    if len(real) == 0 or len(syn) == 0:
        return 1.0
    # the statistic does not depend on the p-value method; "asymp" skips the exact p-value,
    # which is slow on large samples and never used here
    return float(stats.ks_2samp(real, syn, method="asymp").statistic)


def ks_complement(real: np.ndarray, syn: np.ndarray) -> float:
    """1 - KS statistic (1 is best)."""
    return 1.0 - ks_statistic(real, syn)


def tv_complement(real: pd.Series, syn: pd.Series) -> float:
    """1 - ½ Σ_ω |R_ω - S_ω| over category frequencies (1 is best)."""
    r = real.astype(str).value_counts(normalize=True)
    s = syn.astype(str).value_counts(normalize=True)
    cats = r.index.union(s.index)
    return 1.0 - 0.5 * float(
        np.abs(r.reindex(cats, fill_value=0) - s.reindex(cats, fill_value=0)).sum()
    )


def wasserstein1(real: np.ndarray, syn: np.ndarray) -> float:
    """Wasserstein-1 distance in the column's units (0 is best)."""
    if len(real) == 0 or len(syn) == 0:
        return float("nan")
    return float(stats.wasserstein_distance(real, syn))


def mmd(
    real: np.ndarray,
    syn: np.ndarray,
    permutations: int,
    rng: np.random.Generator,
    max_rows: int = 500,
) -> tuple[float, float]:
    """Squared MMD (biased estimate) with a Gaussian kernel and its permutation p-value.

    Args:
        real: (n,) or (n, d) sample.
        syn: (m,) or (m, d) sample.
        permutations: number of permutations of the pooled sample (>= 200 per docs/metrics.md).
        rng: randomness for subsampling and permutations.
        max_rows: each side is subsampled to at most this many rows.

    Returns:
        (mmd², p-value). The bandwidth is the median pairwise distance of the pooled sample.
    """
    x = np.asarray(real, float).reshape(len(real), -1)
    y = np.asarray(syn, float).reshape(len(syn), -1)
    if len(x) < 2 or len(y) < 2:
        return float("nan"), float("nan")
    if len(x) > max_rows:
        x = x[rng.choice(len(x), max_rows, replace=False)]
    if len(y) > max_rows:
        y = y[rng.choice(len(y), max_rows, replace=False)]
    z = np.vstack([x, y])
    sq = np.sum((z[:, None, :] - z[None, :, :]) ** 2, axis=-1)
    med = np.median(sq[np.triu_indices(len(z), 1)])
    bw2 = med if med > 0 else 1.0
    k = np.exp(-sq / bw2)
    n, m = len(x), len(y)
    # indicator rows: the observed split first, then the permutations; all at once
    ind = np.zeros((permutations + 1, n + m))
    ind[0, :n] = 1.0
    for i in range(1, permutations + 1):
        ind[i, rng.permutation(n + m)[:n]] = 1.0
    kx = ind @ k  # (P, N)
    aa = np.einsum("pn,pn->p", kx, ind)  # a' K a
    tot = k.sum()
    rowsum = kx.sum(axis=1)  # a' K 1
    ab = rowsum - aa  # a' K b
    bb = tot - 2 * rowsum + aa  # b' K b
    stat = aa / n**2 + bb / m**2 - 2 * ab / (n * m)
    observed = float(stat[0])
    p = (np.sum(stat[1:] >= observed) + 1) / (permutations + 1)
    return observed, float(p)
