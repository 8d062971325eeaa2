"""`parallel evaluate table`: every baseline beside the synthetic arms, and bad input refused
before any training."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from parallel.data.utility import evaluate_table
from tests.conftest import run_cli


def _blobs(n: int, rng: np.random.Generator, shuffle_labels: bool = False) -> pd.DataFrame:
    """Two Gaussian classes 1.2 sd apart in 6 dimensions, plus a categorical column."""
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 6)) + 1.2 * y[:, None] / np.sqrt(6) * 2
    df = pd.DataFrame(x, columns=[f"x{i}" for i in range(6)])
    df["colour"] = np.where(rng.random(n) < 0.5, "red", "blue")
    df["label"] = np.where(rng.permutation(y) if shuffle_labels else y, "yes", "no")
    return df


def test_good_synthetic_rows_help_and_label_noise_does_not() -> None:
    rng = np.random.default_rng(0)
    real = pd.concat([g.head(4) for _, g in _blobs(200, rng).groupby("label")])
    test = _blobs(600, rng)
    good = evaluate_table(real=real, test=test, target="label", synthetic=_blobs(800, rng),
                          ratios=[4.0], seeds=3)  # fmt: skip
    bad = evaluate_table(real=real, test=test, target="label",
                         synthetic=_blobs(800, rng, shuffle_labels=True), ratios=[4.0], seeds=3)  # fmt: skip
    arms = set(good["results"])
    assert arms == {"real_only", "real+synthetic x4", "synthetic_only", "smote x4", "noise x4"}
    acc = lambda m, arm: m["results"][arm]["logistic:accuracy"]["mean"]  # noqa: E731
    assert acc(good, "real+synthetic x4") > acc(good, "real_only") + 0.02
    assert acc(good, "synthetic_only") > 0.75
    assert abs(acc(bad, "synthetic_only") - 0.5) < 0.12  # labels carry nothing: chance
    assert acc(bad, "real+synthetic x4") < acc(good, "real+synthetic x4")
    # the baselines need no synthetic rows and are the same in both runs
    assert good["results"]["smote x4"] == bad["results"]["smote x4"]
    se = good["results"]["real_only"]["boosting:roc_auc"]["se"]
    assert se >= 0 and 0.5 < good["results"]["real_only"]["boosting:roc_auc"]["mean"] <= 1


def test_cli_writes_metrics_and_report_with_the_curve(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    real = pd.concat([g.head(8) for _, g in _blobs(200, rng).groupby("label")])
    real.to_csv(tmp_path / "real.csv", index=False)
    _blobs(300, rng).to_csv(tmp_path / "test.csv", index=False)
    _blobs(200, rng).to_parquet(tmp_path / "syn.parquet")
    res = run_cli("evaluate", "table", "--real", str(tmp_path / "real.csv"), "--test",
                  str(tmp_path / "test.csv"), "--target", "label", "--synthetic",
                  str(tmp_path / "syn.parquet"), "--out", str(tmp_path / "e"), "--seeds", "2",
                  "--ratios", "1", "--curve", "4")  # fmt: skip
    assert res.returncode == 0, res.stderr
    m = json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert set(m["curve"]) == {"4_per_class"} and m["rows"]["real"] == 16
    html = (tmp_path / "e" / "report.html").read_text()
    assert "smote x1" in html and "noise x1" in html and "data:image/png" in html


def test_bad_input_exits_2_before_any_training(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    real = _blobs(40, rng)
    real.to_csv(tmp_path / "real.csv", index=False)
    _blobs(100, rng).drop(columns=["colour"]).to_csv(tmp_path / "fewer.csv", index=False)
    one = _blobs(100, rng)
    one[one.label == "yes"].to_csv(tmp_path / "one_class.csv", index=False)
    _blobs(100, rng).to_csv(tmp_path / "test.csv", index=False)

    def ev(test: str, target: str = "label", *extra: str):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        res = run_cli("evaluate", "table", "--real", str(tmp_path / "real.csv"), "--test",
                      str(tmp_path / test), "--target", target, "--out", str(tmp_path / "e"),
                      *extra)  # fmt: skip
        assert res.returncode == 2 and "Traceback" not in res.stderr
        assert time.perf_counter() - t0 < 20 and not (tmp_path / "e").exists()
        return res.stderr.replace("\n", " ")

    assert "no column 'kind' (--target)" in ev("test.csv", "kind")
    assert "columns differ from the real set's" in ev("fewer.csv") and "'colour'" in ev("fewer.csv")
    assert "class(es) ['no'] of the real set are not in the test set" in ev("one_class.csv")
    assert "columns differ" in ev("test.csv", "label", "--synthetic", str(tmp_path / "fewer.csv"))
