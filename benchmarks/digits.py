"""Small real set to big synthetic set on real images nobody here wrote: sklearn's digits.

scikit-learn ships 1,797 real 8x8 handwritten digits (no download). Half of them (a fixed
split) are held out as the real test set. For each seed and each size of the small real
set (images per class), the benchmark draws that many training images per class, trains
the class-conditional image GAN (`parallel train IMAGES_DIR` defaults, 32 px), generates
`--synthetic-per-class` images per class and runs `parallel evaluate vision`: TSTR accuracy
on the held-out real digits for real only, synthetic only and real + synthetic; every
utility arm (synthetic images, classical augmentation of the same size and noisy copies at
`--ratios` times the small set, for the small CNN and logistic regression); Fréchet
distance and precision/recall against the noisy-copies baseline. Reports mean ± s.e. over
seeds and the gains of adding synthetic images, against real only and against
augmentation of the same size, paired by seed.

    python -m benchmarks.digits [--seeds 5] [--per-class 10] [--steps 1000]
    python -m benchmarks.digits --per-class 5 10 20 50      # the augmentation curve
    python -m benchmarks.digits --model gaussian             # the Gaussian generator instead
    python -m benchmarks.digits --model kernel               # its kernel estimate instead

With ``--model gaussian`` the generator is `parallel train IMAGES_DIR --model gaussian`
(:mod:`parallel.gan.gaussian`), fitted on the same small sets, and the figures go to
``digits_gaussian.json``; with ``--model kernel`` (the kernel estimate around the real
images, the same module) to ``digits_kernel.json``.

Sizes already in ``benchmarks/results/digits.json`` from an earlier run with the same GAN
settings are kept (each size records its own command, seeds and git revision), so the
curve can be measured a size at a time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sklearn.datasets import load_digits

from benchmarks._common import RESULTS, write_result
from parallel.core.runfolder import git_revision
from parallel.gan.images import IMAGE_DEFAULTS, ImageSampler, fit_gaussian, fit_images
from parallel.gan.train import TrainConfig
from parallel.vision.evaluate import evaluate


def _write(root: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    for i, (im, y) in enumerate(zip(images, labels)):
        (root / str(y)).mkdir(parents=True, exist_ok=True)
        Image.fromarray((im * 16).clip(0, 255).astype(np.uint8)).save(root / str(y) / f"{i}.png")
    return root


def _ms(v: list[float]) -> dict:
    a = np.asarray(v, float)
    se = float(a.std(ddof=1) / np.sqrt(len(a))) if len(a) > 1 else 0.0
    return {"mean": float(a.mean()), "se": se, "runs": a.tolist()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--per-class", type=int, nargs="+", default=[10])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--synthetic-per-class", type=int, default=100)
    ap.add_argument("--ratios", type=float, nargs="+", default=[1.0, 4.0, 10.0])
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument(
        "--model",
        choices=("gan", "gaussian", "kernel"),
        default="gan",
        help="the generator: gan (`parallel train IMAGES_DIR`, writes digits.json) or gaussian "
        "(`--model gaussian`, writes digits_gaussian.json) or kernel (`--model kernel`, "
        "writes digits_kernel.json)",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    d = load_digits()
    split = np.random.default_rng(12345).permutation(len(d.images))
    held, pool = split[: len(split) // 2], split[len(split) // 2 :]
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        held_dir = _write(Path(tmp) / "held", d.images[held], d.target[held])
        for n in args.per_class:
            runs = []
            for seed in range(args.seeds):
                rng = np.random.default_rng(seed)
                pick = np.concatenate(
                    [rng.choice(pool[d.target[pool] == c], n, replace=False) for c in range(10)]
                )
                base = Path(tmp) / f"n{n}s{seed}"
                train_dir = _write(base / "train", d.images[pick], d.target[pick])
                t0 = time.perf_counter()
                if args.model in ("gaussian", "kernel"):
                    fit_gaussian(train_dir, base / "gen", size=32, seed=seed, model=args.model)
                else:
                    cfg = TrainConfig(**(IMAGE_DEFAULTS | {"steps": args.steps, "seed": seed}))
                    fit_images(train_dir, base / "gen", cfg, device="cpu")
                train_s = time.perf_counter() - t0
                sampler = ImageSampler(base / "gen")
                gen = torch.Generator().manual_seed(10_000 + seed)
                syn_dir = base / "syn"
                for c, name in enumerate(sampler.classes):
                    (syn_dir / name).mkdir(parents=True)
                    for i, im in enumerate(sampler.sample(c, args.synthetic_per_class, gen)):
                        Image.fromarray(im).save(syn_dir / name / f"{i}.png")
                m = evaluate(held_dir, syn_dir, base / "eval", train_dir, seed, ratios=args.ratios)
                runs.append({**m, "gan_train_s": train_s})
                print(f"n={n} seed={seed}: {m['tstr']}", flush=True)
                results[str(n)] = _summary(runs) | {
                    "command": " ".join(["python -m benchmarks.digits", *sys.argv[1:]]),
                    "git_revision": git_revision(),
                }
                _save(args, results)


def _summary(runs: list[dict]) -> dict:
    """Mean ± s.e. over the seeds done so far."""
    t = {k: [r["tstr"][k] for r in runs] for k in runs[0]["tstr"]}
    gain = [a - b for a, b in zip(t["small_real_plus_synthetic"], t["small_real_only"])]
    fid = ("frechet", "precision", "recall")
    return {
        "seeds_done": len(runs),
        "tstr": {k: _ms(v) for k, v in t.items()},
        "gain_real_plus_synthetic_minus_real": _ms(gain),
        "synthetic": {k: _ms([r["synthetic"][k] for r in runs]) for k in fid},
        "noisy_copies_baseline": {
            k: _ms([r["noisy_copies_baseline"][k] for r in runs]) for k in fid
        },
        "gan_train_s": _ms([r["gan_train_s"] for r in runs]),
        **_utility(runs),
    }


def _utility(runs: list[dict]) -> dict:
    """Every arm per classifier, and the synthetic arms' gains paired by seed against real
    only and against augmentation of the same size."""
    arms = list(runs[0]["utility"])
    keys = list(runs[0]["utility"]["real_only"])
    acc = {a: {k: np.array([r["utility"][a][k]["mean"] for r in runs]) for k in keys} for a in arms}
    gains: dict = {}
    for a in arms:
        if a == "real_only":
            continue
        gains[f"{a} - real_only"] = {k: _ms(list(acc[a][k] - acc["real_only"][k])) for k in keys}
        if a.startswith("real+synthetic"):
            aug = a.replace("real+synthetic", "augment")
            gains[f"{a} - {aug}"] = {k: _ms(list(acc[a][k] - acc[aug][k])) for k in keys}
    return {
        "utility": {a: {k: _ms(list(v)) for k, v in acc[a].items()} for a in arms},
        "utility_gains": gains,
    }


def _save(args: argparse.Namespace, results: dict) -> None:
    name = "digits" if args.model == "gan" else f"digits_{args.model}"
    old_path = RESULTS / f"{name}.json"
    if old_path.is_file():
        old = json.loads(old_path.read_text())
        gan = IMAGE_DEFAULTS | {"steps": args.steps} if args.model == "gan" else None
        same = old.get("gan") == gan and (
            old.get("synthetic_per_class") == args.synthetic_per_class
        )
        if same:  # keep the sizes this run did not measure
            results = {k: v for k, v in old["per_class"].items() if k not in results} | results
            results = dict(sorted(results.items(), key=lambda kv: int(kv[0])))
    write_result(
        name,
        {
            "data": "sklearn load_digits: 1,797 real 8x8 digits; a fixed half held out as the test set",
            "generator": "the image GAN"
            if args.model == "gan"
            else f"parallel train --model {args.model}",
            "gan": IMAGE_DEFAULTS | {"steps": args.steps} if args.model == "gan" else None,
            "synthetic_per_class": args.synthetic_per_class,
            "ratios": args.ratios,
            "per_class": results,
            "target": "at 10 real images per class: real + generated beats real only by more "
            "than its s.e., and beats classical augmentation of the same size",
        },
    )


if __name__ == "__main__":
    main()
