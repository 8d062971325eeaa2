"""The classifier two-sample test (C2ST): a learned judge reported as a statistical test.

A classifier learns, on k-1 folds, to tell actual rows from artificial ones and scores
the held-out fold. The statistic is the mean held-out AUC (0.5 = indistinguishable,
1.0 = fully separable); the p-value permutes labels against the held-out scores.
Definition: ``docs/metrics.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field
from scipy import stats

from parallel.config.schema import Strict


class C2STConfig(Strict):
    """Classifier two-sample test settings."""

    classifier: Literal["logistic", "mlp"] = "logistic"
    """The discriminator: ``logistic`` (quadratic in the numeric columns) or a small ``mlp``."""
    folds: int = Field(5, ge=2, le=20)
    """Cross-validation folds."""
    permutations: int = Field(100, ge=10, le=5000)
    """Label permutations for the p-value."""
    max_rows: int = Field(2000, ge=50, le=200000)
    """Rows drawn from each side at most."""


def _features(
    real: pd.DataFrame,
    syn: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Rows to features: numeric columns with their squares and pairwise products
    (standardised first), plus one-hot categories. Quadratic terms only among the numeric
    columns keep the logistic discriminator small and fast on wide one-hot blocks.

    Returns:
        x: (N, F) features; y: (N,) 1 for ``real`` rows, 0 for ``syn`` rows.
    """
    both = pd.concat([real, syn], ignore_index=True)
    num = both[list(numeric)].to_numpy(float)
    num = (num - num.mean(axis=0)) / np.maximum(num.std(axis=0), 1e-9)
    i, j = np.triu_indices(num.shape[1])
    parts = [num, num[:, i] * num[:, j]]
    for col in categorical:
        parts.append(pd.get_dummies(both[col].astype(str)).to_numpy(float))
    x = np.hstack(parts)
    y = np.r_[np.ones(len(real)), np.zeros(len(syn))]
    return x, y


def _classifier(kind: str, seed: int) -> object:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=500))
    return make_pipeline(StandardScaler(), MLPClassifier((32,), max_iter=100, random_state=seed))


def _fold_aucs(scores: np.ndarray, labels: np.ndarray, fold: np.ndarray, folds: int) -> np.ndarray:
    """Mean over folds of the AUC of ``scores`` against each row of ``labels``.

    Args:
        scores: (N,) out-of-fold classifier scores.
        labels: (P, N) 0/1 labels, one labelling per row.
        fold: (N,) fold index of each row.

    Returns:
        (P,) mean AUC over folds (Mann-Whitney U / (n1 n0) per fold).
    """
    out = np.zeros(len(labels))
    for k in range(folds):
        sel = fold == k
        ranks = stats.rankdata(scores[sel])  # ties get average ranks
        lab = labels[:, sel]
        n1 = lab.sum(axis=1)
        n0 = sel.sum() - n1
        u = (lab * ranks).sum(axis=1) - n1 * (n1 + 1) / 2
        out += u / np.maximum(n1 * n0, 1)
    return out / folds


def _oof_scores(
    x: np.ndarray, y: np.ndarray, kind: str, folds: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold scores (N,) and fold index (N,) from a stratified k-fold split."""
    import warnings

    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import StratifiedKFold

    model = _classifier(kind, seed)
    scores = np.zeros(len(y))
    fold = np.zeros(len(y), np.int64)
    for k, (tr, te) in enumerate(
        StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y)
    ):
        m = clone(model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            m.fit(x[tr], y[tr])
        scores[te] = m.predict_proba(x[te])[:, 1]
        fold[te] = k
    return scores, fold


def c2st(
    real: pd.DataFrame,
    syn: pd.DataFrame,
    cfg: C2STConfig,
    rng: np.random.Generator,
    numeric: Sequence[str],
    categorical: Sequence[str],
    permutations: int | None = None,
) -> tuple[float, float]:
    """Classifier two-sample test on vehicle records (or any table, given its columns).

    A classifier is trained on k-1 folds and scores the held-out fold, for every fold.
    The statistic is the mean held-out AUC. The p-value permutes the labels against the
    held-out scores (within each fold): under the null hypothesis the held-out scores
    are exchangeable between the two samples, so this is an exact permutation test of
    the held-out AUC without retraining the classifier per permutation.

    Returns:
        (mean out-of-fold AUC, permutation p-value). 0.5 means the two samples cannot be
        told apart; the p-value is NaN when ``permutations`` is 0.
    """
    n = min(len(real), len(syn), cfg.max_rows)
    if n < 2 * cfg.folds:
        return float("nan"), float("nan")
    r = real.iloc[rng.choice(len(real), n, replace=False)]
    s = syn.iloc[rng.choice(len(syn), n, replace=False)]
    x, y = _features(r, s, numeric, categorical)
    seed = int(rng.integers(2**31 - 1))
    scores, fold = _oof_scores(x, y, cfg.classifier, cfg.folds, seed)
    auc = float(_fold_aucs(scores, y[None, :], fold, cfg.folds)[0])
    perms = cfg.permutations if permutations is None else permutations
    if perms <= 0:
        return auc, float("nan")
    labels = np.empty((perms, len(y)))
    for k in range(cfg.folds):
        sel = np.flatnonzero(fold == k)
        labels[:, sel] = rng.permuted(np.broadcast_to(y[sel], (perms, len(sel))), axis=1)
    null = _fold_aucs(scores, labels, fold, cfg.folds)
    return auc, float((np.sum(null >= auc) + 1) / (perms + 1))
