"""The judge: GEH and RMSN by hand, the verdict, the objectives registry. (The distances
and the C2ST it uses are tested in tests/metrics/.)"""

from __future__ import annotations

import numpy as np
import pytest

from parallel.core.errors import RegistryError
from parallel.traffic.judge import (
    OBJECTIVES,
    geh,
    judge,
    rmsn,
)
from parallel.traffic.scenario import JudgeConfig


def test_geh_and_rmsn_by_hand() -> None:
    m, c = np.array([110.0, 100.0, 0.0]), np.array([100.0, 100.0, 0.0])
    g = geh(m, c)
    assert g[0] == pytest.approx(np.sqrt(2 * 100 / 210))
    assert g[1] == 0 and g[2] == 0
    assert rmsn(m, c) == pytest.approx(np.sqrt(3 * 100) / 200)


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
