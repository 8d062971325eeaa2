"""The tabular quality score, by hand against its definition in docs/metrics.md."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from parallel.metrics.quality import quality


def _table(rng: np.random.Generator, n: int, rho: float) -> pd.DataFrame:
    a = rng.normal(size=n)
    b = rho * a + np.sqrt(1 - rho**2) * rng.normal(size=n)
    return pd.DataFrame({"a": a, "b": b, "c": rng.choice(["x", "y"], n)})


def test_a_table_against_itself_scores_one(rng: np.random.Generator) -> None:
    t = _table(rng, 300, 0.6)
    q = quality(t, t.sample(frac=1, random_state=1))
    assert q["quality"] == pytest.approx(1.0)
    assert set(q["pairs"]) == {"a|b", "a|c", "b|c"}  # every pair kept
    assert q["shapes"].keys() == {"a", "b", "c"}


def test_correlation_similarity_by_hand(rng: np.random.Generator) -> None:
    real, syn = _table(rng, 2000, 0.8), _table(rng, 2000, -0.2)
    q = quality(real, syn)
    rho_r = np.corrcoef(real["a"], real["b"])[0, 1]
    rho_s = np.corrcoef(syn["a"], syn["b"])[0, 1]
    assert q["pairs"]["a|b"] == pytest.approx(1 - abs(rho_r - rho_s) / 2)
    assert q["column_pair_trends"] == pytest.approx(np.mean(list(q["pairs"].values())))
    assert q["quality"] == pytest.approx((q["column_shapes"] + q["column_pair_trends"]) / 2)


def test_contingency_similarity_by_hand() -> None:
    real = pd.DataFrame({"u": ["p", "p", "q", "q"], "v": ["s", "t", "s", "t"]})
    syn = pd.DataFrame({"u": ["p", "p", "p", "q"], "v": ["s", "s", "t", "t"]})
    # P_real: ps pt qs qt = .25 each; P_syn: ps .5, pt .25, qt .25 -> ½(.25 + 0 + .25 + 0)
    assert quality(real, syn)["pairs"]["u|v"] == pytest.approx(0.75)
    # shapes: u .5/.5 against .75/.25 -> TV complement 0.75; v equal -> 1.0
    assert quality(real, syn)["shapes"] == pytest.approx({"u": 0.75, "v": 1.0})


def test_a_shifted_column_lowers_its_shape(rng: np.random.Generator) -> None:
    real = _table(rng, 500, 0.5)
    syn = real.copy()
    syn["a"] = syn["a"] + 3.0
    q = quality(real, syn)
    assert q["shapes"]["a"] < 0.2 and q["shapes"]["b"] == pytest.approx(1.0)


def test_missing_synthetic_column_is_named(rng: np.random.Generator) -> None:
    t = _table(rng, 50, 0.0)
    with pytest.raises(ValueError, match=r"\['c'\]"):
        quality(t, t.drop(columns=["c"]))
