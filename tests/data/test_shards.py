"""The shard writer's limits: a plan too big to list, and a disk too small to hold it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from parallel.core.errors import UserInputError
from parallel.data.shards import MANIFEST, write_shards
from tests.conftest import run_cli


def _batch(n: int, ss: np.random.SeedSequence) -> pa.Table:
    return pa.table({"x": np.random.default_rng(ss).random(n)})


def test_an_unbounded_row_count_is_refused_at_once(tmp_path: Path) -> None:
    res = run_cli("generate", "table", "--from", str(tmp_path), "--rows", "1000000000000000",
                  "--out", str(tmp_path / "o"), timeout=60)  # fmt: skip
    assert res.returncode == 2 and "shards; at most 100,000 per dataset" in res.stderr


def test_a_dataset_that_would_not_fit_stops_after_its_first_shard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = shutil.disk_usage

    def small(path: object) -> object:
        u = real(path)
        return type(u)(u.total, u.used, 50_000)  # 50 kB free

    monkeypatch.setattr(shutil, "disk_usage", small)
    out = tmp_path / "d"
    with pytest.raises(UserInputError, match=r"remaining 90,000 rows need about .* MB .* are free"):
        write_shards(out, _batch, rows=100_000, seed=1, schema={"x": "double"},
                     source={}, shard_rows=10_000)  # fmt: skip
    m = json.loads((out / MANIFEST).read_text())
    assert not m["complete"] and [s["rows"] for s in m["shards"]] == [10_000]
    monkeypatch.setattr(shutil, "disk_usage", real)  # room again: the same call resumes
    m = write_shards(out, _batch, rows=100_000, seed=1, schema={"x": "double"},
                     source={}, shard_rows=10_000)  # fmt: skip
    assert m["complete"] and len(m["shards"]) == 10
