"""Mixed-type table encoders and the table generator: round trips, caps, documented
handling of constant and empty columns, and the errors for bad tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from parallel.core.errors import DataError
from parallel.gan.synth import TABLE_DEFAULTS, TableSampler, fit_table
from parallel.gan.tabular import OTHER, Categorical, Constant, Continuous, TableEncoder
from parallel.gan.toy import vehicle_table
from parallel.gan.train import TrainConfig
from parallel.metrics.quality import quality

CATS = {"approach", "movement", "vclass", "lane"}


def _frame(table) -> pd.DataFrame:  # Arrow -> pandas with plain categorical values
    df = table.to_pandas()
    for c in df:
        if isinstance(df[c].dtype, pd.CategoricalDtype):
            df[c] = df[c].astype(object)
    return df


def _hard(enc: TableEncoder, x: np.ndarray) -> np.ndarray:
    """Turn one-hot blocks into decisive logits, as a perfect generator would emit."""
    y = x.copy()
    for start, width in enc.softmax_spans():
        y[:, start : start + width] = np.where(x[:, start : start + width] > 0.5, 30.0, -30.0)
    return y


def test_encoder_kinds_and_round_trip(rng: np.random.Generator) -> None:
    df = vehicle_table(5000, rng)
    enc = TableEncoder.fit(df)
    kinds = {c.name: type(c) for c in enc.columns}
    assert kinds["approach"] is Categorical and kinds["lane"] is Categorical  # few integers
    assert kinds["speed_kmh"] is Continuous and kinds["headway_s"] is Continuous
    x = enc.encode(df, rng)
    assert x.shape == (5000, enc.width) and x.dtype == np.float32
    # continuous columns come out standard normal (quantile normalisation)
    at = 0
    for c in enc.columns:
        if isinstance(c, Continuous):
            assert abs(x[:, at].mean()) < 0.05 and abs(x[:, at].std() - 1) < 0.05
        at += c.width
    back = _frame(enc.decode(_hard(enc, x), rng))
    q = quality(df, back, CATS)
    assert q["quality"] > 0.99, q


def test_encoder_survives_json(rng: np.random.Generator) -> None:
    df = vehicle_table(2000, rng)
    enc = TableEncoder.fit(df)
    again = TableEncoder.from_json(enc.to_json())
    x = enc.encode(df, np.random.default_rng(0))
    a = enc.decode(x, np.random.default_rng(1))
    b = again.decode(x, np.random.default_rng(1))
    assert a.equals(b)


def test_high_cardinality_is_capped_with_a_note(rng: np.random.Generator) -> None:
    n = 20_000
    ids = np.char.add(
        "P", rng.zipf(1.3, n).astype(str)
    )  # thousands of distinct values, a heavy head
    df = pd.DataFrame({"plate": ids, "speed": rng.normal(50, 5, n)})
    enc = TableEncoder.fit(df, max_categories=20)
    col = enc.columns[0]
    assert isinstance(col, Categorical)
    assert col.width == 20 and col.categories[-1] == OTHER and col.capped_from > 100
    assert any("capped to the 19 most frequent" in note for note in enc.notes)
    x = enc.encode(df, rng)
    codes = x[:, :20].argmax(axis=1)
    top = set(pd.Series(ids).value_counts().index[:19])
    assert np.all((codes == 19) == ~pd.Series(ids).isin(top).to_numpy())


def test_constant_and_empty_columns_are_written_back(rng: np.random.Generator) -> None:
    df = pd.DataFrame({"x": rng.normal(size=300), "site": ["A"] * 300, "note": [np.nan] * 300})
    enc = TableEncoder.fit(df)
    assert isinstance(enc.columns[1], Constant) and isinstance(enc.columns[2], Constant)
    assert enc.width == 1
    assert any("constant" in n for n in enc.notes) and any("empty" in n for n in enc.notes)
    out = _frame(enc.decode(np.zeros((4, 1), np.float32), rng))
    assert out["site"].tolist() == ["A"] * 4 and out["note"].isna().all()


def test_missing_values_keep_their_rate(rng: np.random.Generator) -> None:
    x = rng.normal(size=4000)
    x[rng.random(4000) < 0.2] = np.nan
    df = pd.DataFrame({"x": x, "k": rng.choice(["a", "b", None], 4000)})
    enc = TableEncoder.fit(df)
    e = enc.encode(df, rng)
    back = _frame(enc.decode(_hard(enc, e), rng))
    assert back["x"].isna().mean() == pytest.approx(0.2, abs=0.02)
    assert back["k"].isna().mean() == pytest.approx(df["k"].isna().mean(), abs=0.02)


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (pd.DataFrame(), "empty"),
        (
            pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["1", "x", "3"]}),
            r"'x' at data row 2 \(line 3\)",
        ),
        (pd.DataFrame({"a": [1, 1], "b": ["k", "k"]}), "nothing to learn"),
    ],
)
def test_bad_tables(frame: pd.DataFrame, match: str) -> None:
    with pytest.raises(DataError, match=match):
        TableEncoder.fit(frame, source="t.csv")


def test_training_improves_quality_and_sampling_is_seeded(tmp_path: Path) -> None:
    real = vehicle_table(4000, np.random.default_rng(0))
    held = vehicle_table(4000, np.random.default_rng(1))
    cfg = TrainConfig(**(TABLE_DEFAULTS | {"steps": 400, "checkpoint_every": 400}))
    fit_table(real, tmp_path / "g0", cfg.model_copy(update={"steps": 1}), device="cpu")
    fit_table(real, tmp_path / "g", cfg, device="cpu")
    untrained = quality(held, TableSampler(tmp_path / "g0").sample_frame(4000, 3), CATS)
    trained = quality(held, TableSampler(tmp_path / "g").sample_frame(4000, 3), CATS)
    assert trained["quality"] > untrained["quality"] + 0.1, (trained, untrained)
    s = TableSampler(tmp_path / "g")
    assert s.sample(1000, 7).equals(s.sample(1000, 7))
    assert not s.sample(1000, 7).equals(s.sample(1000, 8))
    # sampling runs on the numpy export (no torch); torch gives the same rows
    assert s.backend == "numpy"
    assert s.config_digest == TrainConfig(**s.config).digest()
    t = TableSampler(tmp_path / "g")
    t.mlp = None
    t._load_torch("cpu")
    a, b = s.sample_frame(2000, 5), t.sample_frame(2000, 5)
    for col in a.columns:
        if col in CATS:
            # the same latent and the same draws: categories agree but for a rare tie
            assert (a[col] == b[col]).mean() > 0.999, col
        else:
            assert np.allclose(a[col], b[col], rtol=1e-4, atol=1e-4), col


def test_stale_numpy_export_is_not_used(tmp_path: Path) -> None:
    cfg = TrainConfig(**(TABLE_DEFAULTS | {"steps": 20, "checkpoint_every": 20}))
    real = vehicle_table(500, np.random.default_rng(0))
    fit_table(real, tmp_path / "g", cfg, device="cpu")
    fit_table(real, tmp_path / "h", cfg.model_copy(update={"seed": 1}), device="cpu")
    assert TableSampler(tmp_path / "g").backend == "numpy"
    # another checkpoint's export must not be used for this one
    (tmp_path / "g" / "generator.npz").write_bytes((tmp_path / "h" / "generator.npz").read_bytes())
    s = TableSampler(tmp_path / "g")
    assert s.backend == "torch" and s.step == 20
    assert s.sample(100, 0).num_rows == 100


@pytest.mark.parametrize("k", [1, 2, 7, 1000])
@pytest.mark.parametrize("kind", ["lognormal", "bimodal", "ties"])
def test_tabulated_decoder_matches_the_exact_map(k: int, kind: str) -> None:
    """The fast decoder reads a table of the score -> value map; it must stay within a few
    per cent of the width of the quantile levels around each value of the exact map, tails
    and clamping included, and never leave the data's range."""
    from scipy import special

    from parallel.gan.tabular import QuantileDecoder, _quantile_decode_exact

    rng = np.random.default_rng(k)
    x = {
        "lognormal": lambda: rng.lognormal(0, 1, 50_000),
        "bimodal": lambda: np.r_[rng.normal(15, 4, 25_000), rng.normal(50, 5, 25_000)],
        "ties": lambda: np.round(rng.gamma(2, 3, 50_000)),
    }[kind]()
    q = np.quantile(x, (np.arange(k) + 0.5) / k)
    z = np.concatenate(
        [np.random.default_rng(0).standard_normal(100_000), [-40.0, -6.0, 0.0, 6.0, 40.0]]
    ).astype(np.float32)
    exact = _quantile_decode_exact(z, q)
    fast = QuantileDecoder(q)(z)
    assert fast.shape == z.shape and np.all(np.isfinite(fast))
    assert fast.min() >= q[0] and fast.max() <= q[-1]
    if k == 1:
        assert np.all(fast == q[0])
        return
    pos = np.clip(special.ndtr(z.astype(np.float64)) * k - 0.5, 0, k - 1)
    i = np.minimum(pos.astype(np.int64), k - 2)
    w = np.diff(q)
    around = np.maximum.reduce([w[np.clip(i + d, 0, k - 2)] for d in (-1, 0, 1)])
    err = np.abs(fast - exact)
    assert np.all(err <= 0.1 * around + 1e-9 * (q[-1] - q[0])), (err / around).max()


def test_category_draws_follow_the_softmax() -> None:
    from parallel.gan.tabular import _draw_category

    logits = np.log(np.array([0.1, 0.6, 0.3], np.float32))[:, None].repeat(200_000, axis=1)
    codes = _draw_category(logits, np.random.default_rng(0))
    share = np.bincount(codes, minlength=3) / codes.size
    np.testing.assert_allclose(share, [0.1, 0.6, 0.3], atol=0.005)


def test_infinite_values_are_named_before_training(tmp_path: Path) -> None:
    from parallel.gan.tabular import read_table

    p = tmp_path / "t.csv"
    p.write_text("speed,kind\n1.5,a\n2.0,b\ninf,a\n")
    with pytest.raises(DataError, match=r"line 4: column 'speed' holds inf; give finite numbers"):
        read_table(p)
