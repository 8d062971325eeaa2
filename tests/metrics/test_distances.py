"""Distances between two samples of one column, checked against docs/metrics.md."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from parallel.metrics.distances import (
    ks_complement,
    ks_statistic,
    mmd,
    tv_complement,
    wasserstein1,
)


def test_ks_complement_matches_definition(rng: np.random.Generator) -> None:
    a = np.array([1.0, 2.0, 3.0, 4.0])
    b = np.array([3.0, 4.0, 5.0, 6.0])
    # F_a - F_b reaches 0.5 at x in [2, 3)
    assert ks_complement(a, b) == pytest.approx(0.5)
    x = rng.normal(size=500)
    assert ks_complement(x, x) == 1.0


def test_ks_of_an_empty_sample_is_the_worst() -> None:
    assert ks_statistic(np.array([]), np.array([1.0, 2.0])) == 1.0
    assert ks_complement(np.array([1.0]), np.array([])) == 0.0


def test_tv_complement() -> None:
    r = pd.Series(["a"] * 50 + ["b"] * 50)
    s = pd.Series(["a"] * 80 + ["c"] * 20)
    # ½(|0.5-0.8| + |0.5-0| + |0-0.2|) = 0.5
    assert tv_complement(r, s) == pytest.approx(0.5)
    assert tv_complement(r, r.sample(frac=1, random_state=0)) == pytest.approx(1.0)
    # no category in common: the worst score
    assert tv_complement(pd.Series(["x"]), pd.Series(["y"])) == pytest.approx(0.0)


def test_tv_complement_compares_categories_as_text() -> None:
    # 1 and "1" are one category: a CSV round trip must not make them differ
    assert tv_complement(pd.Series([1, 2, 2]), pd.Series(["1", "2", "2"])) == pytest.approx(1.0)


def test_wasserstein_in_units() -> None:
    assert wasserstein1(np.zeros(10), np.full(10, 3.0)) == pytest.approx(3.0)
    # the mass moved: a quarter of the sample by 4 units
    assert wasserstein1(np.array([0.0, 0, 0, 0]), np.array([0.0, 0, 0, 4])) == pytest.approx(1.0)
    assert np.isnan(wasserstein1(np.array([]), np.array([1.0])))


def test_mmd_permutation_pvalue(rng: np.random.Generator) -> None:
    same = [mmd(rng.normal(size=200), rng.normal(size=200), 200, rng)[1] for _ in range(3)]
    shifted = mmd(rng.normal(size=200), rng.normal(0.8, 1, size=200), 200, rng)
    assert min(same) > 0.01
    assert shifted[1] < 0.01 and shifted[0] > 0


def test_mmd_is_zero_for_one_sample_and_grows_with_the_shift(rng: np.random.Generator) -> None:
    x = rng.normal(size=(150, 2))
    assert mmd(x, x.copy(), 50, rng)[0] == pytest.approx(0.0, abs=1e-12)
    near = mmd(x, x + 0.3, 50, rng)[0]
    far = mmd(x, x + 1.5, 50, rng)[0]
    assert 0 < near < far <= 2.0  # MMD² with a Gaussian kernel is at most 2


def test_mmd_needs_two_rows_a_side(rng: np.random.Generator) -> None:
    stat, p = mmd(np.array([1.0]), rng.normal(size=10), 50, rng)
    assert np.isnan(stat) and np.isnan(p)
