"""The classifier two-sample test: held-out AUC and its permutation p-value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from parallel.metrics.c2st import C2STConfig, _fold_aucs, c2st

NUMERIC = ["travel_time_s", "delay_s", "stops"]
CATEGORICAL = ["origin", "destination"]


def _records(rng: np.random.Generator, n: int, shift: float) -> pd.DataFrame:
    tt = rng.gamma(4, 10, n) + shift
    return pd.DataFrame(
        {
            "travel_time_s": tt,
            "delay_s": tt - 20,
            "stops": rng.integers(0, 2, n),
            "origin": rng.choice(["W", "E"], n),
            "destination": rng.choice(["N1", "S1"], n),
        }
    )


def test_c2st_auc_and_pvalue(rng: np.random.Generator) -> None:
    cfg = C2STConfig(permutations=100, max_rows=600)
    auc, p = c2st(_records(rng, 600, 0), _records(rng, 600, 0), cfg, rng, NUMERIC, CATEGORICAL)
    assert abs(auc - 0.5) < 0.06 and p > 0.05
    auc, p = c2st(_records(rng, 600, 0), _records(rng, 600, 25), cfg, rng, NUMERIC, CATEGORICAL)
    assert auc > 0.75 and p < 0.02


def test_c2st_sees_a_category_shift_alone(rng: np.random.Generator) -> None:
    real, syn = _records(rng, 500, 0), _records(rng, 500, 0)
    syn["origin"] = "W"  # every artificial vehicle enters in the west
    auc, p = c2st(real, syn, C2STConfig(permutations=50), rng, NUMERIC, CATEGORICAL)
    assert auc > 0.7 and p < 0.05


def test_c2st_mlp_discriminator(rng: np.random.Generator) -> None:
    cfg = C2STConfig(classifier="mlp", permutations=20, max_rows=400)
    auc, _ = c2st(_records(rng, 400, 0), _records(rng, 400, 25), cfg, rng, NUMERIC, CATEGORICAL)
    assert auc > 0.7


def test_c2st_is_seeded(rng: np.random.Generator) -> None:
    a, b = _records(rng, 300, 0), _records(rng, 300, 5)
    cfg = C2STConfig(permutations=30)
    first = c2st(a, b, cfg, np.random.default_rng(3), NUMERIC, CATEGORICAL)
    again = c2st(a, b, cfg, np.random.default_rng(3), NUMERIC, CATEGORICAL)
    assert first == again


def test_c2st_with_too_few_rows_is_nan(rng: np.random.Generator) -> None:
    auc, p = c2st(_records(rng, 6, 0), _records(rng, 6, 0), C2STConfig(), rng, NUMERIC, CATEGORICAL)
    assert np.isnan(auc) and np.isnan(p)


def test_c2st_without_permutations_has_no_pvalue(rng: np.random.Generator) -> None:
    auc, p = c2st(
        _records(rng, 200, 0), _records(rng, 200, 0), C2STConfig(), rng, NUMERIC, CATEGORICAL, 0
    )
    assert 0.0 <= auc <= 1.0 and np.isnan(p)


def test_fold_auc_is_mann_whitney_by_hand() -> None:
    # one fold: scores 0.1 0.4 0.35 0.8 with labels 0 0 1 1 -> 3 of 4 pairs ordered
    scores = np.array([0.1, 0.4, 0.35, 0.8])
    labels = np.array([[0, 0, 1, 1], [1, 1, 0, 0]])
    aucs = _fold_aucs(scores, labels, np.zeros(4, np.int64), 1)
    assert aucs == pytest.approx([0.75, 0.25])
