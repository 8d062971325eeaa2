"""Judge metrics, checked against their definitions in docs/metrics.md."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from parallel.core.errors import RegistryError
from parallel.metrics.c2st import C2STConfig, c2st
from parallel.metrics.distances import ks_complement, mmd, tv_complement, wasserstein1
from parallel.traffic.judge import (
    CATEGORICAL_COLUMNS,
    NUMERIC_COLUMNS,
    OBJECTIVES,
    geh,
    judge,
    rmsn,
)
from parallel.traffic.scenario import JudgeConfig


def test_ks_complement_matches_definition(rng: np.random.Generator) -> None:
    a = np.array([1.0, 2.0, 3.0, 4.0])
    b = np.array([3.0, 4.0, 5.0, 6.0])
    # F_a - F_b reaches 0.5 at x in [2, 3)
    assert ks_complement(a, b) == pytest.approx(0.5)
    x = rng.normal(size=500)
    assert ks_complement(x, x) == 1.0


def test_tv_complement() -> None:
    r = pd.Series(["a"] * 50 + ["b"] * 50)
    s = pd.Series(["a"] * 80 + ["c"] * 20)
    # ½(|0.5-0.8| + |0.5-0| + |0-0.2|) = 0.5
    assert tv_complement(r, s) == pytest.approx(0.5)


def test_wasserstein_in_units() -> None:
    assert wasserstein1(np.zeros(10), np.full(10, 3.0)) == pytest.approx(3.0)


def test_geh_and_rmsn_by_hand() -> None:
    m, c = np.array([110.0, 100.0, 0.0]), np.array([100.0, 100.0, 0.0])
    g = geh(m, c)
    assert g[0] == pytest.approx(np.sqrt(2 * 100 / 210))
    assert g[1] == 0 and g[2] == 0
    assert rmsn(m, c) == pytest.approx(np.sqrt(3 * 100) / 200)


def test_mmd_permutation_pvalue(rng: np.random.Generator) -> None:
    same = [mmd(rng.normal(size=200), rng.normal(size=200), 200, rng)[1] for _ in range(3)]
    shifted = mmd(rng.normal(size=200), rng.normal(0.8, 1, size=200), 200, rng)
    assert min(same) > 0.01
    assert shifted[1] < 0.01 and shifted[0] > 0


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
    auc, p = c2st(
        _records(rng, 600, 0), _records(rng, 600, 0), cfg, rng, NUMERIC_COLUMNS, CATEGORICAL_COLUMNS
    )
    assert abs(auc - 0.5) < 0.06 and p > 0.05
    auc, p = c2st(
        _records(rng, 600, 0),
        _records(rng, 600, 25),
        cfg,
        rng,
        NUMERIC_COLUMNS,
        CATEGORICAL_COLUMNS,
    )
    assert auc > 0.75 and p < 0.02


def test_verdict_states_scale_and_direction(tiny_spec, tiny_params, rng) -> None:  # type: ignore[no-untyped-def]
    from parallel.traffic.artificial.model import simulate

    a = simulate(tiny_spec, tiny_params, tiny_spec.control.initial, np.random.SeedSequence(1))
    b = simulate(tiny_spec, tiny_params, tiny_spec.control.initial, np.random.SeedSequence(2))
    v = judge(a, b, JudgeConfig(detector_interval_s=300), rng)
    table = v.table()
    assert set(table["better"]) <= {"higher", "lower", "0.5", "0"}
    assert table["scale"].str.len().min() > 0
    assert {
        "ks_complement",
        "wasserstein1",
        "mmd2",
        "tv_complement",
        "geh_share",
        "rmsn",
        "c2st_auc",
    } <= set(table["metric"])
    assert 0 <= v.get("geh_share", "counts") <= 1


def test_unknown_objective_lists_valid_names() -> None:
    with pytest.raises(RegistryError, match="valid names are: .*c2st_auc"):
        OBJECTIVES.get("nope")
