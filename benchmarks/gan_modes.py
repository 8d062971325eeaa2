"""Mode coverage on PacGAN's toy settings (ring: 8 modes, σ 0.01; grid: 25 modes, σ 0.05).

Trains one GAN per seed on each toy within a wall-time budget, draws 2,500 samples from
the (EMA) generator and reports modes captured and the high-quality share as mean ± s.e.
over seeds, beside PacGAN's Table 1.

    python -m benchmarks.gan_modes [--seeds 5] [--budget-s 60] [--toys ring grid]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks._common import write_result
from parallel.gan.toy import TOYS
from parallel.gan.train import TrainConfig, Trainer

PACGAN_TABLE1 = {
    "ring": {
        "GAN": "6.3 ± 0.5 modes, 98.2 ± 0.2 % HQ",
        "PacGAN2": "7.9 ± 0.1 modes, 95.6 ± 2.0 % HQ",
    },
    "grid": {
        "GAN": "17.3 ± 0.8 modes, 94.8 ± 0.7 % HQ",
        "PacGAN4": "24.8 ± 0.2 modes, 93.6 ± 0.6 % HQ",
    },
}


def run(toy_name: str, seed: int, budget_s: float, cfg_kw: dict, steps: int | None) -> dict:
    """One seed. With ``steps`` the run has a fixed length (so the learning rate can decay
    to its end) and must fit the budget; otherwise it trains until the budget is spent."""
    toy = TOYS[toy_name]()
    raw = toy.sample(100_000, np.random.default_rng(seed))
    scale = raw.std()  # train on standardised data: modes O(1) apart, as the nets expect
    data = torch.tensor(raw / scale, dtype=torch.float32)
    n = steps or 10**7
    cfg = TrainConfig(seed=seed, steps=n, checkpoint_every=10**7, log_every=10**7, **cfg_kw)
    with tempfile.TemporaryDirectory() as tmp:
        tr = Trainer(cfg, data, Path(tmp), "cpu")
        t0 = time.perf_counter()
        while tr.step < n and time.perf_counter() - t0 < budget_s:
            tr.train_step()
            tr.step += 1
        wall = time.perf_counter() - t0
        x = tr.sample(2500, torch.Generator().manual_seed(10_000 + seed)).numpy() * scale
    return {**toy.score(x), "steps": tr.step, "wall_s": wall, "finished": tr.step >= n}


def _mse(v: list[float]) -> str:
    a = np.asarray(v, float)
    return f"{a.mean():.2f} ± {a.std(ddof=1) / np.sqrt(len(a)) if len(a) > 1 else 0:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--budget-s", type=float, default=60.0)
    ap.add_argument("--toys", nargs="+", default=["ring", "grid"])
    ap.add_argument("--steps", type=int, nargs="+", default=None, help="fixed steps per toy")
    ap.add_argument("--set", nargs="*", default=[], help="override a trainer key: key=value")
    ap.add_argument("--name", default="gan_modes", help="result file name")
    args = ap.parse_args()
    torch.set_num_threads(2)
    cfg_kw = {
        "loss": "non-saturating",
        "pac": 2,
        "lr_g": 1e-3,
        "lr_d": 1e-3,
        "beta1": 0.5,
        "ema": 0.99,
        "g_hidden": 128,
        "g_layers": 3,
        "d_hidden": 128,
        "pieces": 3,
    }
    for kv in args.set:
        k, v = kv.split("=", 1)
        cfg_kw[k] = type(TrainConfig.model_fields[k].default)(v)
    out: dict = {
        "config": cfg_kw,
        "standardised": True,
        "steps": args.steps,
        "budget_s_per_run": args.budget_s,
        "samples": 2500,
        "toys": {},
    }
    for name in args.toys:
        steps = args.steps[args.toys.index(name)] if args.steps else None
        runs = [run(name, s, args.budget_s, cfg_kw, steps) for s in range(args.seeds)]
        out["toys"][name] = {
            "modes": _mse([r["modes"] for r in runs]),
            "hq_percent": _mse([100 * r["hq"] for r in runs]),
            "runs": runs,
            "pacgan_table1": PACGAN_TABLE1[name],
            "target": "8/8 modes, >= 98% HQ" if name == "ring" else "25/25 modes, >= 95% HQ",
        }
    write_result(args.name, out)


if __name__ == "__main__":
    main()
