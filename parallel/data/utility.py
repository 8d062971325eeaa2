"""Does synthetic data help? Downstream utility of a synthetic table, every baseline in one run.

:func:`evaluate_table` trains scikit-learn classifiers (logistic regression and gradient
boosting) to predict ``target`` and scores them on a held-out real test set, for:

* ``real_only``: the small real set alone;
* ``real+synthetic xR``: the real set plus R times as many synthetic rows;
* ``synthetic_only``: synthetic rows alone, as many as the largest ratio (TSTR);
* ``smote xR``: the real set plus as many SMOTE rows (imbalanced-learn; SMOTENC when
  there are categorical columns), the classical augmentation of the same size;
* ``noise xR``: the real set plus noisy copies of its rows (Gaussian noise of 10% of each
  numeric column's spread), the trivial baseline.

Every arm runs with ``seeds`` seeds (the synthetic and augmented rows drawn, and the
classifiers seeded, per seed); the result is the mean and standard error of accuracy and
ROC AUC (one-vs-rest, macro, for more than two classes). With ``curve`` sizes, the same
arms run on the real set cut to that many rows per class, for the curve of accuracy
against the number of real rows.

Inputs are checked before any training: the target in every file, the same columns in
every file, every class of the real set in the test set.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from parallel.core.errors import DataError, UserInputError

CLASSIFIERS = ("logistic", "boosting")
METRICS = ("accuracy", "roc_auc")


def read_synthetic(path: Path) -> pd.DataFrame:
    """A `parallel generate table` folder (Parquet shards under ``data/``) or a table file.

    Raises:
        DataError: nothing readable there.
    """
    from parallel.gan.tabular import read_table

    if path.is_dir():
        if not (path / "data").is_dir():
            raise DataError(f"{path}: not a `parallel generate table` folder (no data/)")
        try:
            return pd.read_parquet(path / "data")
        except Exception as exc:  # the user's folder
            raise DataError(f"{path}: cannot read its shards ({type(exc).__name__})") from None
    return read_table(path)


def check_inputs(
    real: pd.DataFrame, test: pd.DataFrame, syn: pd.DataFrame | None, target: str,
    names: dict[str, Path],
) -> None:  # fmt: skip
    """Everything that would make the comparison meaningless, before any training.

    Raises:
        UserInputError: a missing target, a column mismatch, or a class of the real set
            that the test set does not have; naming the file.
    """
    frames = {"real": real, "test": test, **({"synthetic": syn} if syn is not None else {})}
    for k, df in frames.items():
        if target not in df.columns:
            raise UserInputError(
                f"{names[k]}: no column {target!r} (--target); its columns are: "
                f"{', '.join(map(str, df.columns[:12]))}"
            )
    want = set(real.columns)
    for k, df in frames.items():
        if set(df.columns) != want:
            missing, extra = sorted(want - set(df.columns)), sorted(set(df.columns) - want)
            raise UserInputError(
                f"{names[k]}: its columns differ from the real set's ({names['real']}): "
                f"missing {missing or 'none'}, extra {extra or 'none'}"
            )
    absent = sorted(set(real[target].astype(str)) - set(test[target].astype(str)))
    if absent:
        raise UserInputError(
            f"{names['test']}: class(es) {absent} of the real set are not in the test set; "
            "a held-out set needs every class to score"
        )
    if real[target].nunique() < 2:
        raise UserInputError(f"{names['real']}: {target!r} has one class; give at least two")


def _encoder(df: pd.DataFrame, target: str) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    feats = [c for c in df.columns if c != target]
    cats = [c for c in feats if not pd.api.types.is_numeric_dtype(df[c])]
    nums = [c for c in feats if c not in cats]
    return ColumnTransformer(
        [("num", StandardScaler(), nums),
         ("cat", OneHotEncoder(handle_unknown="ignore"), cats)],
        sparse_threshold=0.0,
    )  # fmt: skip


def _classifier(kind: str, seed: int) -> Any:
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    if kind == "logistic":
        return LogisticRegression(max_iter=2000)
    # the classic one: the histogram variant's 20-row leaves cannot split a set of 30 rows
    return GradientBoostingClassifier(random_state=seed, n_estimators=100)


def _score(train: pd.DataFrame, test: pd.DataFrame, target: str, seed: int) -> dict[str, float]:
    """Accuracy and ROC AUC of each classifier trained on ``train``."""
    from sklearn.dummy import DummyClassifier
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.pipeline import make_pipeline

    classes = sorted(test[target].astype(str).unique())
    y_test = test[target].astype(str)
    out: dict[str, float] = {}
    one_class = train[target].nunique() < 2  # e.g. a collapsed generator's rows alone
    for kind in CLASSIFIERS:
        # with one class there is nothing to learn: the constant prediction is the score
        clf = DummyClassifier(strategy="most_frequent") if one_class else _classifier(kind, seed)
        model = make_pipeline(_encoder(train, target), clf)
        model.fit(train.drop(columns=[target]), train[target].astype(str))
        x = test.drop(columns=[target])
        out[f"{kind}:accuracy"] = float(accuracy_score(y_test, model.predict(x)))
        frame = pd.DataFrame(model.predict_proba(x), columns=model.classes_)
        # a class the training set lacked (TSTR) gets probability 0, not a crash
        proba = frame.reindex(columns=classes, fill_value=0.0).to_numpy(float)
        if len(classes) == 2:
            auc = roc_auc_score(y_test == classes[1], proba[:, 1])
        else:
            proba = proba / np.maximum(proba.sum(axis=1, keepdims=True), 1e-12)
            auc = roc_auc_score(y_test, proba, multi_class="ovr", labels=classes)
        out[f"{kind}:roc_auc"] = float(auc)
    return out


def _smote(real: pd.DataFrame, target: str, n: int, seed: int) -> pd.DataFrame:
    """``n`` SMOTE rows, each class grown in proportion to its size."""
    from imblearn.over_sampling import SMOTE, SMOTENC

    y = real[target].astype(str)
    x = real.drop(columns=[target])
    counts = y.value_counts()
    k = int(max(1, min(5, counts.min() - 1)))
    want = {c: int(v + round(n * v / len(real))) for c, v in counts.items()}
    cats = [i for i, c in enumerate(x.columns) if not pd.api.types.is_numeric_dtype(x[c])]
    sm = (
        SMOTENC(categorical_features=cats, sampling_strategy=want, k_neighbors=k, random_state=seed)
        if cats
        else SMOTE(sampling_strategy=want, k_neighbors=k, random_state=seed)
    )
    xs, ys = sm.fit_resample(x, y)
    new = pd.DataFrame(xs, columns=x.columns).iloc[len(real) :].copy()
    new[target] = np.asarray(ys)[len(real) :]
    return new.astype({c: real[c].dtype for c in x.columns})


def _noise(real: pd.DataFrame, target: str, n: int, rng: np.random.Generator) -> pd.DataFrame:
    rows = real.iloc[rng.integers(0, len(real), n)].reset_index(drop=True)
    for c in rows.columns:
        if c != target and pd.api.types.is_numeric_dtype(rows[c]) and rows[c].dtype != bool:
            sd = float(real[c].std()) or 1.0
            rows[c] = rows[c].astype(float) + rng.normal(0.0, 0.1 * sd, n)
    return rows


def _arms(
    real: pd.DataFrame, syn: pd.DataFrame | None, target: str, ratios: list[float],
    seed: int,
) -> dict[str, pd.DataFrame]:  # fmt: skip
    """The training set of every arm for one seed."""
    rng = np.random.default_rng(seed)
    n = len(real)
    arms = {"real_only": real}
    for r in ratios:
        m = max(1, int(round(r * n)))
        if syn is not None:
            pick = syn.iloc[rng.choice(len(syn), m, replace=m > len(syn))]
            arms[f"real+synthetic x{r:g}"] = pd.concat([real, pick], ignore_index=True)
        arms[f"smote x{r:g}"] = pd.concat([real, _smote(real, target, m, seed)], ignore_index=True)
        arms[f"noise x{r:g}"] = pd.concat([real, _noise(real, target, m, rng)], ignore_index=True)
    if syn is not None:
        m = max(1, int(round(max(ratios) * n)))
        arms["synthetic_only"] = syn.iloc[rng.choice(len(syn), m, replace=m > len(syn))]
    return arms


def _per_class(real: pd.DataFrame, target: str, k: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = [g.iloc[rng.permutation(len(g))[:k]] for _, g in real.groupby(real[target].astype(str))]
    return pd.concat(parts).reset_index(drop=True)


def summarise(scores: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per arm and classifier:metric, the mean and s.e. over seeds."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for arm in scores[0]:
        out[arm] = {}
        for key in scores[0][arm]:
            v = np.array([s[arm][key] for s in scores], float)
            se = float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")
            out[arm][key] = {"mean": float(v.mean()), "se": se}
    return out


def evaluate_table(
    *,
    real: pd.DataFrame,
    test: pd.DataFrame,
    target: str,
    synthetic: pd.DataFrame | None = None,
    ratios: list[float] | None = None,
    seeds: int = 5,
    curve: list[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
    names: dict[str, Path] | None = None,
) -> dict[str, Any]:
    """Every arm (see the module docstring) with ``seeds`` seeds; returns metrics.json's
    content.

    Raises:
        UserInputError: see :func:`check_inputs`; a curve size above what a class holds.
    """
    names = names or {k: Path(k) for k in ("real", "test", "synthetic")}
    check_inputs(real, test, synthetic, target, names)
    ratios = ratios or [0.5, 1.0, 2.0, 4.0]
    smallest = int(real[target].astype(str).value_counts().min())
    for k in curve or []:
        if not 2 <= k <= smallest:
            raise UserInputError(
                f"--curve {k}: sizes must be 2..{smallest} rows per class (the real set's "
                "smallest class)"
            )
    sizes = [None, *sorted(set(curve or []))]
    total, done = len(sizes) * seeds, 0
    results: dict[str, Any] = {}
    for size in sizes:
        scores = []
        for s in range(seeds):
            base = real if size is None else _per_class(real, target, size, s)
            arms = _arms(base, synthetic, target, ratios, s)
            scores.append({a: _score(df, test, target, s) for a, df in arms.items()})
            done += 1
            if progress:
                progress(done, total)
        results["full" if size is None else f"{size}_per_class"] = summarise(scores)
    return {
        "target": target,
        "classes": sorted(real[target].astype(str).unique()),
        "rows": {"real": len(real), "test": len(test),
                 "synthetic": None if synthetic is None else len(synthetic)},
        "ratios": ratios,
        "seeds": seeds,
        "classifiers": list(CLASSIFIERS),
        "metrics": list(METRICS),
        "results": results["full"],
        "curve": {k: v for k, v in results.items() if k != "full"},
        "note": "mean and standard error over seeds; higher is better for both metrics",
    }  # fmt: skip
