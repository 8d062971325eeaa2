"""The class-conditional naive generator: class statistics in, rows of the table's schema out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from parallel.core.errors import UserInputError
from parallel.gan.synth import TableSampler, fit_naive
from tests.conftest import run_cli


def _table(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Two classes: 'a' around 10, 'b' around 20 (sd 2 in both); an integer count; a
    colour that is red in 'a' three times in four; a column missing a fifth of the time
    in 'b' only."""
    y = np.repeat(["a", "b"], n // 2)
    b = y == "b"
    df = pd.DataFrame(
        {
            "speed": np.where(b, 20.0, 10.0) + rng.normal(0, 2, n),
            "count": rng.integers(0, 40, n),
            "colour": np.where(rng.random(n) < np.where(b, 0.25, 0.75), "red", "blue"),
            "gap": np.where(b & (rng.random(n) < 0.2), np.nan, rng.normal(5, 1, n)),
            "label": y,
        }
    )
    return df


def test_rows_follow_each_class_and_keep_the_schema(tmp_path: Path) -> None:
    real = _table(400, np.random.default_rng(0))
    fit_naive(real, tmp_path / "g", target="label")
    s = TableSampler(tmp_path / "g")
    assert s.backend == "numpy" and s.step == 0
    t = s.sample(20_000, 1)
    assert {f.name: str(f.type) for f in t.schema} == s.encoder.schema()
    rows = s.sample_frame(20_000, 1)
    by = rows.groupby("label")
    assert abs(by.size()["a"] / len(rows) - 0.5) < 0.02
    # class means kept, the spread pooled within classes (2), not the table's (about 5.4)
    assert abs(by["speed"].mean()["a"] - 10) < 0.4 and abs(by["speed"].mean()["b"] - 20) < 0.4
    assert 1.7 < by["speed"].std()["a"] < 2.3
    assert rows["speed"].between(real["speed"].min(), real["speed"].max()).all()
    assert (rows["count"] == rows["count"].round()).all()
    red = (rows["colour"] == "red").groupby(rows["label"]).mean()
    assert 0.68 < red["a"] < 0.82 and 0.18 < red["b"] < 0.32
    missing = rows["gap"].isna().groupby(rows["label"]).mean()
    assert missing["a"] < 0.01 and 0.15 < missing["b"] < 0.25
    # the same seed gives the same rows; another seed other rows
    assert rows.equals(s.sample_frame(20_000, 1))
    assert not rows.equals(s.sample_frame(20_000, 2))


def test_a_target_must_be_a_class_column(tmp_path: Path) -> None:
    real = _table(100, np.random.default_rng(1))
    with pytest.raises(UserInputError, match="'labels': no such column"):
        fit_naive(real, tmp_path / "g", target="labels")
    with pytest.raises(UserInputError, match="'speed': a numeric column"):
        fit_naive(real, tmp_path / "g", target="speed")
    assert not (tmp_path / "g").exists()  # refused before anything was written


def test_train_naive_then_generate_from_the_command_line(tmp_path: Path) -> None:
    _table(40, np.random.default_rng(2)).to_csv(tmp_path / "small.csv", index=False)
    res = run_cli("train", str(tmp_path / "small.csv"), "--model", "naive", "--target",
                  "label", "--out", str(tmp_path / "gen"))  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "2 classes of 'label'" in res.stdout
    res = run_cli("generate", "table", "--from", str(tmp_path / "gen"), "--rows", "500",
                  "--out", str(tmp_path / "syn"))  # fmt: skip
    assert res.returncode == 0, res.stderr
    rows = pd.read_parquet(tmp_path / "syn" / "data")
    assert len(rows) == 500 and set(rows["label"].astype(str)) == {"a", "b"}
    bad = run_cli("train", str(tmp_path / "small.csv"), "--model", "naive", "--target",
                  "speed", "--out", str(tmp_path / "gen2"))  # fmt: skip
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "--target 'speed'" in bad.stderr + bad.stdout
    gan = run_cli("train", str(tmp_path / "small.csv"), "--target", "label")
    assert gan.returncode == 2 and "--model naive" in gan.stderr + gan.stdout
