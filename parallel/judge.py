"""The judge: how far apart are the actual and the artificial observations?

Every score carries its scale and its direction. Definitions follow
``shared/REFERENCES.md`` exactly:

* KS complement ``1 - max|F_real - F_syn|``; TV complement ``1 - ½ Σ|R - S|``;
* Wasserstein-1 through ``scipy.stats.wasserstein_distance``, in the column's units;
* MMD with a Gaussian kernel, median-heuristic bandwidth, permutation p-value;
* GEH on hourly flows (share of detector-intervals with GEH < 5) and RMSN;
* C2ST: a classifier trained on k folds to tell actual rows from artificial ones; the
  mean out-of-fold AUC (0.5 = indistinguishable) and a label-permutation p-value.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from parallel.observation import Observation
from parallel.registry import Registry
from parallel.scenario import C2STConfig, JudgeConfig

NUMERIC_COLUMNS = ("travel_time_s", "delay_s", "stops")
CATEGORICAL_COLUMNS = ("origin", "destination")
DETECTOR_COLUMNS = ("count", "mean_speed_kmh", "queue_veh")


@dataclass(frozen=True)
class Score:
    """One number with its meaning."""

    metric: str
    subject: str
    value: float
    scale: str
    better: str  # "higher" | "lower" | "0.5"
    p_value: float | None = None


@dataclass
class Verdict:
    """Everything the judge said about one (actual, artificial) pair."""

    scores: list[Score] = field(default_factory=list)
    kpi_error: dict[str, float] = field(default_factory=dict)

    def get(self, metric: str, subject: str) -> float:
        for s in self.scores:
            if s.metric == metric and s.subject == subject:
                return s.value
        raise KeyError(f"no score {metric} on {subject}")

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(s) for s in self.scores])

    def headline(self) -> dict[str, float]:
        """The few numbers a report leads with."""
        out = {}
        for metric, subject in (
            ("geh_share", "counts"),
            ("rmsn", "counts"),
            ("ks_complement", "travel_time_s"),
            ("c2st_auc", "vehicles"),
        ):
            with contextlib.suppress(KeyError):
                out[f"{metric}:{subject}"] = self.get(metric, subject)
        return out


# ------------------------------------------------------------------ distances
def ks_statistic(real: np.ndarray, syn: np.ndarray) -> float:
    """max|F_real - F_syn| (0 is best)."""
    if len(real) == 0 or len(syn) == 0:
        return 1.0
    return float(stats.ks_2samp(real, syn).statistic)


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
        permutations: number of permutations of the pooled sample (>= 200 per REFERENCES).
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


def _hourly(
    actual: Observation, artificial: Observation, interval_s: float
) -> tuple[np.ndarray, np.ndarray]:
    a = actual.detectors.set_index(["link", "interval_start_s"])["count"]
    s = artificial.detectors.set_index(["link", "interval_start_s"])["count"]
    idx = a.index.union(s.index)
    scale = 3600.0 / interval_s
    c = a.reindex(idx, fill_value=0).to_numpy(float) * scale
    m = s.reindex(idx, fill_value=0).to_numpy(float) * scale
    return m, c


def geh(modelled: np.ndarray, counted: np.ndarray) -> np.ndarray:
    """GEH = sqrt(2 (M - C)² / (M + C)) per detector-interval, on hourly flows."""
    denom = modelled + counted
    with np.errstate(invalid="ignore", divide="ignore"):
        g = np.sqrt(2.0 * (modelled - counted) ** 2 / denom)
    return np.where(denom > 0, g, 0.0)


def geh_share(actual: Observation, artificial: Observation, interval_s: float) -> float:
    """Share of detector-intervals with GEH < 5, on hourly flows (>= 0.85 is the usual target)."""
    m, c = _hourly(actual, artificial, interval_s)
    return float(np.mean(geh(m, c) < 5))


def rmsn(modelled: np.ndarray, counted: np.ndarray) -> float:
    """RMSN = sqrt(N Σ (M - C)²) / Σ C (0 is best)."""
    total = counted.sum()
    if total <= 0:
        return float("nan")
    return float(np.sqrt(len(counted) * np.sum((modelled - counted) ** 2)) / total)


# ------------------------------------------------------------------ C2ST
def _features(
    real: pd.DataFrame,
    syn: pd.DataFrame,
    numeric: Sequence[str] = NUMERIC_COLUMNS,
    categorical: Sequence[str] = CATEGORICAL_COLUMNS,
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
    permutations: int | None = None,
    numeric: Sequence[str] = NUMERIC_COLUMNS,
    categorical: Sequence[str] = CATEGORICAL_COLUMNS,
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


# ------------------------------------------------------------------ objectives
Objective = Callable[[Observation, Observation, JudgeConfig, np.random.Generator], float]
OBJECTIVES: Registry[Objective] = Registry("calibration objective")


@OBJECTIVES.register("rmsn")
def _obj_rmsn(a: Observation, s: Observation, cfg: JudgeConfig, rng: np.random.Generator) -> float:
    return rmsn(*_hourly(a, s, cfg.detector_interval_s))


@OBJECTIVES.register("geh")
def _obj_geh(a: Observation, s: Observation, cfg: JudgeConfig, rng: np.random.Generator) -> float:
    m, c = _hourly(a, s, cfg.detector_interval_s)
    return 1.0 - float(np.mean(geh(m, c) < 5))


@OBJECTIVES.register("ks_travel_time")
def _obj_ks_tt(a: Observation, s: Observation, cfg: JudgeConfig, rng: np.random.Generator) -> float:
    return ks_statistic(
        a.vehicles["travel_time_s"].to_numpy(), s.vehicles["travel_time_s"].to_numpy()
    )


@OBJECTIVES.register("w1_travel_time")
def _obj_w1_tt(a: Observation, s: Observation, cfg: JudgeConfig, rng: np.random.Generator) -> float:
    real = a.vehicles["travel_time_s"].to_numpy()
    return wasserstein1(real, s.vehicles["travel_time_s"].to_numpy()) / max(
        float(real.mean()), 1e-9
    )


@OBJECTIVES.register("ks_speed")
def _obj_ks_speed(
    a: Observation, s: Observation, cfg: JudgeConfig, rng: np.random.Generator
) -> float:
    return ks_statistic(
        a.detectors["mean_speed_kmh"].dropna().to_numpy(),
        s.detectors["mean_speed_kmh"].dropna().to_numpy(),
    )


@OBJECTIVES.register("c2st_auc")
def _obj_c2st(a: Observation, s: Observation, cfg: JudgeConfig, rng: np.random.Generator) -> float:
    auc, _ = c2st(a.vehicles, s.vehicles, cfg.c2st, rng, permutations=0)
    return abs(auc - 0.5) * 2  # 0 when indistinguishable, 1 when fully separable


def discrepancy(
    weights: Mapping[Any, float],
    actual: Observation,
    artificial: Observation,
    cfg: JudgeConfig,
    seed: int = 0,
) -> float:
    """The weighted sum of named objectives (lower is better)."""
    total = 0.0
    for name, w in weights.items():
        rng = np.random.default_rng(seed)
        val = OBJECTIVES.get(name)(actual, artificial, cfg, rng)
        total += w * (val if np.isfinite(val) else 1.0)
    return float(total)


# ------------------------------------------------------------------ the judge
def judge(
    actual: Observation,
    artificial: Observation,
    cfg: JudgeConfig,
    rng: np.random.Generator,
    with_c2st: bool = True,
) -> Verdict:
    """Compare two observations on every column, the counts and the KPIs."""
    v = Verdict()
    add = v.scores.append
    av, sv = actual.vehicles, artificial.vehicles
    for col in NUMERIC_COLUMNS:
        r, s = av[col].to_numpy(float), sv[col].to_numpy(float)
        add(Score("ks_complement", col, ks_complement(r, s), "[0, 1]", "higher"))
        add(
            Score(
                "wasserstein1", col, wasserstein1(r, s), f"{col.rsplit('_', 1)[-1]} units", "lower"
            )
        )
        m2, p = mmd(r, s, cfg.mmd_permutations, rng)
        add(Score("mmd2", col, m2, "[0, 2]", "lower", p))
    for col in CATEGORICAL_COLUMNS:
        add(Score("tv_complement", col, tv_complement(av[col], sv[col]), "[0, 1]", "higher"))
    ad, sd = actual.detectors, artificial.detectors
    for col in DETECTOR_COLUMNS:
        r, s = ad[col].dropna().to_numpy(float), sd[col].dropna().to_numpy(float)
        add(Score("ks_complement", f"detector.{col}", ks_complement(r, s), "[0, 1]", "higher"))
        add(Score("wasserstein1", f"detector.{col}", wasserstein1(r, s), "column units", "lower"))
    m, c = _hourly(actual, artificial, cfg.detector_interval_s)
    add(
        Score(
            "geh_share",
            "counts",
            float(np.mean(geh(m, c) < 5)),
            "[0, 1] (>= 0.85 passes)",
            "higher",
        )
    )
    add(Score("rmsn", "counts", rmsn(m, c), "[0, inf)", "lower"))
    if with_c2st:
        auc, p = c2st(av, sv, cfg.c2st, rng)
        add(Score("c2st_auc", "vehicles", auc, "[0, 1] (0.5 = indistinguishable)", "0.5", p))
    for k, val in actual.kpis.items():
        sim = artificial.kpis.get(k, float("nan"))
        v.kpi_error[k] = float((sim - val) / val) if val else float("nan")
        add(Score("kpi_rel_error", k, v.kpi_error[k], "relative, signed", "0"))
    return v
