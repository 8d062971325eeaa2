"""Small data to big data on real tables: does `parallel train` + `generate` help a classifier?

scikit-learn's bundled breast_cancer and wine (no download). For each size K (real rows
per class) and seed: K rows per class are the small real set, every other row is the
held-out test set; our table GAN (`parallel train` defaults, batch cut to the small set)
is trained on the small set alone, its rows are drawn, and `parallel evaluate table`'s
harness scores every arm (real only; real + synthetic at 1x and 4x; synthetic only;
SMOTE and noisy copies of the same sizes) with logistic regression and gradient boosting.
Two candidates run beside the raw generator: **filtered**, the synthetic rows whose label
a logistic regression trained on the small real set agrees with; and **naive**, the
class-conditional naive generator (`parallel train --model naive --target label`).

    python -m benchmarks.small_to_big [--sizes 5 10 20 50] [--seeds 5] [--draws 5] [--steps 1000]

Each of the ``--seeds`` splits is scored as the mean over ``--draws`` draws of the added rows
(synthetic, SMOTE, noisy copies) and classifier seeds; means and s.e. are over splits, and
the gains are paired by split.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks._common import write_result
from parallel.data.utility import evaluate_table
from parallel.gan.synth import TABLE_DEFAULTS, TableSampler, fit_naive, fit_table
from parallel.gan.train import TrainConfig

TARGET = "label"


def dataset(name: str) -> pd.DataFrame:
    from sklearn import datasets

    d = {"breast_cancer": datasets.load_breast_cancer, "wine": datasets.load_wine}[name](
        as_frame=True
    )
    df = d.frame.rename(columns={"target": TARGET})
    df[TARGET] = df[TARGET].map(lambda v: f"class{v}")
    return df


def split(df: pd.DataFrame, k: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    idx = np.concatenate(
        [rng.permutation(np.flatnonzero(df[TARGET] == c))[:k] for c in sorted(df[TARGET].unique())]
    )
    return df.iloc[idx].reset_index(drop=True), df.drop(index=df.index[idx]).reset_index(drop=True)


def synthesise(real: pd.DataFrame, rows: int, steps: int, seed: int, tmp: Path) -> pd.DataFrame:
    pac = TABLE_DEFAULTS["pac"]
    batch = max(pac * 2, min(TABLE_DEFAULTS["batch_size"], len(real) // pac * pac))
    cfg = TrainConfig(**(TABLE_DEFAULTS | {"steps": steps, "checkpoint_every": steps,
                                            "batch_size": batch, "seed": seed}))  # fmt: skip
    out = tmp / f"g{seed}"
    fit_table(real, out, cfg, device="cpu")
    sampler = TableSampler(out, "cpu")
    return sampler.sample_frame(rows, seed)[list(real.columns)]


def naive(real: pd.DataFrame, rows: int, seed: int, tmp: Path) -> pd.DataFrame:
    """Rows of the class-conditional naive generator (`parallel train --model naive`)."""
    out = tmp / f"n{seed}"
    fit_naive(real, out, target=TARGET)
    return TableSampler(out, "cpu").sample_frame(rows, seed)[list(real.columns)]


def filtered(real: pd.DataFrame, syn: pd.DataFrame) -> pd.DataFrame:
    """The synthetic rows whose label a classifier of the small real set agrees with."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    clf.fit(real.drop(columns=[TARGET]), real[TARGET])
    keep = clf.predict(syn.drop(columns=[TARGET])) == syn[TARGET].to_numpy()
    return syn[keep].reset_index(drop=True) if keep.sum() >= 2 else syn


def one(name: str, k: int, seed: int, steps: int, tmp: Path, draws: int) -> dict[str, Any]:
    """One split: its arms' scores, each the mean over ``draws`` draws of the added rows."""
    real, test = split(dataset(name), k, seed)
    syn = synthesise(real, 8 * len(real), steps, seed, tmp)
    kept = filtered(real, syn)
    raw = evaluate_table(real=real, test=test, target=TARGET, synthetic=syn, ratios=[1.0, 4.0],
                         seeds=draws)["results"]  # fmt: skip
    flt = evaluate_table(real=real, test=test, target=TARGET, synthetic=kept, ratios=[1.0, 4.0],
                         seeds=draws)["results"]  # fmt: skip
    out = {arm: {m: v["mean"] for m, v in r.items()} for arm, r in raw.items()}
    for arm in ("real+synthetic x1", "real+synthetic x4", "synthetic_only"):
        out[arm.replace("synthetic", "filtered synthetic")] = {
            m: v["mean"] for m, v in flt[arm].items()
        }
    out["_kept_share"] = {"rows": len(kept) / len(syn)}
    nb = evaluate_table(real=real, test=test, target=TARGET, synthetic=naive(real, 8 * len(real),
                        seed, tmp), ratios=[1.0, 4.0], seeds=draws)["results"]  # fmt: skip
    for arm in ("real+synthetic x1", "real+synthetic x4", "synthetic_only"):
        out[arm.replace("synthetic", "naive")] = {m: v["mean"] for m, v in nb[arm].items()}
    return out


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for arm in runs[0]:
        out[arm] = {}
        for m in runs[0][arm]:
            v = np.array([r[arm][m] for r in runs], float)
            se = float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else None
            out[arm][m] = {"mean": float(v.mean()), "se": se}
    # the acceptance's comparison, paired by seed: real + generated against real only and
    # against SMOTE of the same size (accuracy of each classifier)
    pairs = [(a, r) for a in ("real+synthetic x1", "real+filtered synthetic x1", "real+naive x1")
             for r in ("real_only", "smote x1")]  # fmt: skip
    pairs += [("real+naive x4", "real_only"), ("real+naive x4", "smote x4")]
    for key in ("logistic:accuracy", "boosting:accuracy"):
        for arm, ref in pairs:
            d = np.array([r[arm][key] - r[ref][key] for r in runs])
            se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else None
            name = f"{arm} - {ref}" + ("" if key.startswith("logistic") else " (boosting)")
            out.setdefault("_gain", {})[name] = {"mean": float(d.mean()), "se": se}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["breast_cancer", "wine"])
    ap.add_argument("--sizes", type=int, nargs="+", default=[5, 10, 20, 50])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument(
        "--draws", type=int, default=5,
        help="per split, draws of the synthetic, SMOTE and noisy rows averaged (the added "
        "rows of one draw move accuracy by about 0.01 on these sets)",
    )  # fmt: skip
    args = ap.parse_args()
    t0 = time.perf_counter()
    result: dict[str, Any] = {
        "seeds": args.seeds, "draws": args.draws, "steps": args.steps, "datasets": {}
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="s2b-") as d:
        for name in args.datasets:
            df = dataset(name)
            smallest = int(df[TARGET].value_counts().min())
            result["datasets"][name] = {}
            for k in args.sizes:
                if k > smallest - 5:  # leave every class some test rows
                    continue
                runs = [one(name, k, s, args.steps, Path(d), args.draws) for s in range(args.seeds)]
                agg = aggregate(runs)
                result["datasets"][name][f"{k}_per_class"] = agg
                g = agg["_gain"]
                print(
                    f"{name} {k}/class: real only "
                    f"{agg['real_only']['logistic:accuracy']['mean']:.3f}; gain of real+synthetic "
                    f"x1 {g['real+synthetic x1 - real_only']['mean']:+.3f}, vs SMOTE "
                    f"{g['real+synthetic x1 - smote x1']['mean']:+.3f}; filtered "
                    f"{g['real+filtered synthetic x1 - real_only']['mean']:+.3f}; naive x4 "
                    f"{g['real+naive x4 - real_only']['mean']:+.3f} "
                    f"(vs SMOTE x4 {g['real+naive x4 - smote x4']['mean']:+.3f})",
                    flush=True,
                )
    result["wall_s"] = time.perf_counter() - t0
    write_result("small_to_big", result)


if __name__ == "__main__":
    main()
