"""A class-conditional naive generator for small tables (``parallel train --model naive``).

With ten rows per class a GAN has nothing to learn from but the rows themselves, and its
samples hurt a classifier (``benchmarks/README.md``, "Small to big on real tables"). This
generator instead assumes what a naive Bayes model assumes: within a class, columns are
independent. A numeric column is Gaussian around its class mean with the spread pooled
over all classes (within-class residuals: 20 rows estimate one spread far better than 10
estimate two), clipped to the range the real rows span and rounded where the column holds
integers; a categorical column takes its class's frequencies, smoothed by one count per
category so that a value unseen in one class stays possible. Missing values keep each
class's share.

Why it helps at small n (Ng and Jordan, 2002): a generative model with few parameters
converges in far fewer rows than a discriminative one, and rows drawn from it carry its
independence assumption into whatever classifier is trained on real + generated rows, as
a prior that shrinks the classifier toward the class means. It adds no information beyond
the small set; it adds a bias that pays off when rows are few, and that stops paying when
they are many (the benchmark's curve shows where).

The model is ``naive.json`` in a generator folder beside the same ``encoder.json``,
``config.json`` and ``source.json`` a GAN folder has, so ``parallel generate table`` and
``parallel evaluate`` take either kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from parallel.core.errors import UserInputError
from parallel.gan.tabular import Categorical, Continuous, TableEncoder, _codes

NAIVE = "naive.json"
#: logit of a category that must not be drawn (the target block's other classes)
_NEVER = -50.0


@dataclass
class NaiveTable:
    """Per class: its share, each numeric column's mean and missing share, each
    categorical column's frequencies; per numeric column the pooled spread and range."""

    target: str | None
    """The class column (None: one class, the whole table)."""
    prior: list[float]
    """Share of each class (the target's categories, in the encoder's order)."""
    numeric: dict[str, dict[str, Any]]
    """Column -> ``mean`` (per class), ``sd`` (pooled), ``lo``, ``hi``, ``missing`` (per
    class)."""
    categorical: dict[str, list[list[float]]]
    """Column -> per class, the probability of each of the encoder's categories."""

    @classmethod
    def fit(cls, df: pd.DataFrame, enc: TableEncoder, target: str | None) -> NaiveTable:
        """Raises UserInputError: ``target`` is not a column, or not a class column."""
        y, prior = _classes(df, enc, target)
        k = len(prior)
        numeric: dict[str, dict[str, Any]] = {}
        categorical: dict[str, list[list[float]]] = {}
        for c in enc.columns:
            if isinstance(c, Continuous):
                numeric[c.name] = _fit_numeric(
                    pd.to_numeric(df[c.name], errors="coerce").to_numpy(float), y, k
                )
            elif isinstance(c, Categorical) and c.name != target:
                codes = _codes(df[c.name], c.categories)
                counts = np.stack([np.bincount(codes[y == j], minlength=c.width) for j in range(k)])
                p = (counts + 1.0) / (counts + 1.0).sum(axis=1, keepdims=True)
                categorical[c.name] = p.tolist()
        return cls(target, prior, numeric, categorical)

    def sample(self, n: int, rng: np.random.Generator, enc: TableEncoder) -> pa.Table:
        """``n`` rows as the encoder writes them (the GAN's schema); the same ``rng`` state
        gives the same rows."""
        cls = rng.choice(len(self.prior), size=n, p=np.asarray(self.prior))
        x = np.zeros((n, enc.width), np.float32)
        at = 0
        for c in enc.columns:
            if isinstance(c, Categorical):
                if c.name == self.target:
                    block = np.full((n, c.width), _NEVER, np.float32)
                    block[np.arange(n), cls] = 0.0
                else:
                    block = np.log(np.asarray(self.categorical[c.name], np.float32))[cls]
                x[:, at : at + c.width] = block
            at += c.width
        # categories (and constants) through the encoder's own decoding; numeric columns
        # are drawn here, in their own units, and replace what it wrote for them
        table = enc.decode(x, rng)
        for c in enc.columns:
            if isinstance(c, Continuous):
                i = table.column_names.index(c.name)
                table = table.set_column(
                    i, c.name, _draw_numeric(self.numeric[c.name], c, cls, rng)
                )
        return table

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "prior": self.prior,
            "numeric": self.numeric,
            "categorical": self.categorical,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> NaiveTable:
        return cls(d["target"], list(d["prior"]), dict(d["numeric"]), dict(d["categorical"]))


def _classes(
    df: pd.DataFrame, enc: TableEncoder, target: str | None
) -> tuple[np.ndarray, list[float]]:
    """Each row's class index and the classes' shares."""
    if target is None:
        return np.zeros(len(df), np.int64), [1.0]
    col = next((c for c in enc.columns if c.name == target), None)
    if col is None:
        raise UserInputError(
            f"--target {target!r}: no such column; the table's columns are: "
            f"{', '.join(c.name for c in enc.columns[:12])}"
        )
    if not isinstance(col, Categorical):
        raise UserInputError(
            f"--target {target!r}: a numeric column with many values, not classes; the naive "
            "generator draws rows class by class (give a label column, or no --target)"
        )
    y = _codes(df[target], col.categories)
    prior = np.bincount(y, minlength=col.width) / len(y)
    return y, prior.tolist()


def _fit_numeric(v: np.ndarray, y: np.ndarray, k: int) -> dict[str, Any]:
    ok = ~np.isnan(v)
    means, missing, resid = [], [], []
    overall = float(v[ok].mean())
    for j in range(k):
        vj = v[(y == j) & ok]
        m = float(vj.mean()) if len(vj) else overall  # a class without values: the table's
        means.append(m)
        resid.append(vj - m)
        n_j = int((y == j).sum())
        missing.append(float(1 - len(vj) / n_j) if n_j else 0.0)
    r = np.concatenate(resid)
    dof = max(len(r) - sum(1 for x in resid if len(x)), 1)
    sd = float(np.sqrt((r**2).sum() / dof)) if len(r) > 1 else 0.0
    return {
        "mean": means,
        "sd": sd,
        "lo": float(v[ok].min()),
        "hi": float(v[ok].max()),
        "missing": missing,
    }


def _draw_numeric(
    m: dict[str, Any], c: Continuous, cls: np.ndarray, rng: np.random.Generator
) -> pa.Array:
    v = np.asarray(m["mean"])[cls] + rng.standard_normal(len(cls)) * m["sd"]
    # within the range the real rows span, as the GAN's quantile decoder keeps it
    v = np.clip(v, m["lo"], m["hi"])
    mask = rng.random(len(cls)) < np.asarray(m["missing"])[cls] if c.missing > 0 else None
    return pa.array(np.rint(v).astype(np.int64) if c.integer else v, mask=mask)
