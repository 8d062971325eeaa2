"""``parallel evaluate vision``: how good, and how useful, are the synthetic images?

* **Fidelity**: Fréchet distance and k-NN precision/recall (Kynkäänniemi et al. 2019, k = 3)
  between held-out real images and synthetic ones, in the 64-d penultimate features of a
  small CNN trained on half of the real images (the other half is the reference set). This
  is *not* Inception-FID: no pretrained weights can be downloaded here, so figures are
  comparable only within this harness. A trivial baseline (noisy copies of the small
  real training set, when ``--train`` is given) is scored the same way, so the figures can
  be read.
* **Utility**: TSTR. The same small CNN (:mod:`parallel.vision.classifier`) is trained on
  synthetic images, on the small real set alone and on both, and tested on the held-out
  real reference set.
* **Utility against every baseline** (needs ``--train``): the CNN and a logistic
  regression trained on the small real set alone, with synthetic images added at each of
  ``--ratios``, with as many classical augmentations (random affine and elastic) or noisy
  copies, and on synthetic images alone; mean and s.e. over ``--seeds``
  (:mod:`parallel.vision.utility`).
* **Augmentation curve** (``--curve 5 10 20``, needs ``--train``): the same two
  classifiers (real only; real + all synthetic images) trained on the first k real images
  per class of the small set, for each k: held-out accuracy against the real images used,
  with and without the synthetic ones. (The synthetic set stays the one given; the digits
  benchmark retrains the generator per size for the full small-to-big accounting.)

Writes ``metrics.json`` and a self-contained ``report.html`` with sample grids per class.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import linalg
from torch import Tensor

from parallel.core.errors import DataError, UserInputError
from parallel.core.runfolder import atomic_write
from parallel.vision.classifier import HeldOut, accuracy, features, train_classifier
from parallel.vision.utility import utility

SIZE = 32


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) of two feature sets (N, D)."""
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # a small offset keeps the product's square root stable when dead ReLU units make a
    # covariance singular (the usual FID practice)
    eps = 1e-6 * np.eye(len(sa))
    sa, sb = sa + eps, sb + eps
    covmean = linalg.sqrtm(sa @ sb)
    covmean = np.real(covmean)
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(sa + sb - 2 * covmean))


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Kynkäänniemi et al.: the share of fake samples inside the real manifold (precision)
    and of real samples inside the fake manifold (recall); each manifold is the union of
    balls reaching every sample's k-th nearest neighbour."""

    from scipy.spatial.distance import cdist

    def radii(x: np.ndarray) -> np.ndarray:
        return np.sort(cdist(x, x), axis=1)[:, k]  # column 0 is the point itself

    def inside(points: np.ndarray, ref: np.ndarray, r: np.ndarray) -> float:
        return float(np.mean((cdist(points, ref) <= r[None]).any(axis=1)))

    return inside(fake, real, radii(real)), inside(real, fake, radii(fake))


def read_synthetic(path: Path, classes: list[str], channels: int) -> tuple[Tensor, Tensor]:
    """A `generate images` dataset (manifest + Parquet) or an ImageFolder.

    Raises:
        DataError: unknown classes, or nothing to read.
    """
    from PIL import Image

    from parallel.gan.images import read_image_folder

    if (path / "manifest.json").is_file() and (path / "data").is_dir():
        import pandas as pd

        df = pd.read_parquet(path / "data")
        labels = df["label"].astype(str).tolist()
        mode = "L" if channels == 1 else "RGB"
        arr = np.stack(
            [
                np.asarray(Image.open(io.BytesIO(b)).convert(mode).resize((SIZE, SIZE)), np.float32)
                for b in df["png"]
            ]
        )
        arr = arr[:, None] if arr.ndim == 3 else arr.transpose(0, 3, 1, 2)
        x = torch.from_numpy(arr / 127.5 - 1.0)
    else:
        x, y0, names, _ = read_image_folder(path, SIZE)
        labels = [names[int(i)] for i in y0]
    unknown = sorted(set(labels) - set(classes))
    if unknown:
        raise DataError(f"{path}: classes {unknown} are not among the real classes {classes}")
    y = torch.tensor([classes.index(v) for v in labels])
    return x.float(), y


def _grid(x: Tensor, y: Tensor, classes: list[str], per: int = 8) -> str:
    from PIL import Image

    rows = []
    for k in range(len(classes)):
        sel = x[y == k][:per]
        row = np.zeros((SIZE, SIZE * per, 3), np.uint8)
        for i, im in enumerate(sel):
            a = ((im.numpy() + 1) * 127.5).clip(0, 255).astype(np.uint8)
            a = np.repeat(a, 3, axis=0) if a.shape[0] == 1 else a
            row[:, i * SIZE : (i + 1) * SIZE] = a.transpose(1, 2, 0)
        rows.append(row)
    buf = io.BytesIO()
    Image.fromarray(np.concatenate(rows)).resize((SIZE * per * 2, SIZE * len(classes) * 2), 0).save(
        buf, "PNG"
    )
    return base64.b64encode(buf.getvalue()).decode()


def evaluate(
    real_dir: Path,
    syn_dir: Path,
    out: Path,
    train_dir: Path | None = None,
    seed: int = 0,
    classifier_steps: int = 600,
    curve: list[int] | None = None,
    ratios: list[float] | None = None,
    seeds: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Fidelity and utility of ``syn_dir`` against held-out ``real_dir``; writes ``out``.

    With ``train_dir`` (the small real set) also every utility arm of
    :func:`parallel.vision.utility.utility` at ``ratios`` (default 1 and 4), ``seeds``
    times.

    Raises:
        DataError: unreadable or mismatched image sets.
        UserInputError: ``curve`` without ``train_dir``, or a size larger than the
            small real set holds for some class.
    """
    if curve and train_dir is None:
        raise UserInputError("--curve needs --train, the small real set to draw from")
    from parallel.gan.images import read_image_folder

    xr, yr, classes, _ = read_image_folder(real_dir, SIZE)
    xs, ys = read_synthetic(syn_dir, classes, xr.shape[1])
    _every_class(ys, classes, syn_dir, real_dir)
    if train_dir is not None:
        xt, yt = _read_train(train_dir, classes, curve)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(xr))
    half = len(xr) // 2
    a, b = order[:half], order[half:]  # a: trains the feature net; b: the reference set
    k = len(classes)
    feat_net = train_classifier(xr[a], yr[a], k, seed, classifier_steps)
    fr, fs = features(feat_net, xr[b]), features(feat_net, xs)
    n = min(len(fr), len(fs), 2000)
    pick = lambda f: f[rng.choice(len(f), n, replace=False)]  # noqa: E731
    p, r = precision_recall(pick(fr), pick(fs))
    out_m: dict[str, Any] = {
        "classes": classes,
        "real_heldout": len(b),
        "synthetic_images": len(xs),
        "feature_net_accuracy_on_reference": accuracy(feat_net, xr[b], yr[b]),
        "synthetic": {"frechet": frechet(fr, fs), "precision": p, "recall": r},
        "tstr": {
            "synthetic_only": accuracy(
                train_classifier(xs, ys, k, seed + 1, classifier_steps), xr[b], yr[b]
            )
        },
        "note": "features of a small CNN trained on half of the real images, not Inception",
    }
    if train_dir is not None:
        held = HeldOut(xr[b], yr[b])  # each CNN fit on a training set is made once
        fn = features(feat_net, _noisy_copies(xt, len(xs), seed))
        pn, rn = precision_recall(pick(fr), fn[rng.choice(len(fn), min(n, len(fn)), replace=False)])
        out_m["noisy_copies_baseline"] = {"frechet": frechet(fr, fn), "precision": pn, "recall": rn}
        out_m["tstr"].update(_small_set_tstr(xt, yt, xs, ys, held, k, seed, classifier_steps))
        out_m["ratios"], out_m["seeds"] = ratios or [1.0, 4.0], seeds
        out_m["utility"] = utility(
            xr=xt, yr=yt, xs=xs, ys=ys, xt=held.x, yt=held.y, classes=k,
            ratios=out_m["ratios"], seeds=seeds, steps=classifier_steps, seed=seed,
            progress=progress, held=held,
        )  # fmt: skip
        if curve:
            out_m["augmentation_curve"] = _curve(
                curve, xt, yt, xs, ys, held, classes, seed, classifier_steps
            )
        out_m["cnn_fits"] = held.fits
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "metrics.json", json.dumps(out_m, indent=1))
    atomic_write(
        out / "report.html", _html(out_m, _grid(xs, ys, classes), _grid(xr[b], yr[b], classes))
    )
    return out_m


def _noisy_copies(xt: Tensor, n: int, seed: int) -> Tensor:
    """The trivial baseline: the small real set repeated to about ``n`` images, plus noise."""
    g = torch.Generator().manual_seed(seed)
    reps = max(1, n // max(len(xt), 1))
    noise = 0.1 * torch.randn(len(xt) * reps, *xt.shape[1:], generator=g)
    return (xt.repeat(reps, 1, 1, 1) + noise).clamp(-1, 1)


def _small_set_tstr(
    xt: Tensor, yt: Tensor, xs: Tensor, ys: Tensor, held: HeldOut, k: int, seed: int, steps: int
) -> dict[str, float]:
    """The CNN trained on the small real set, and on it plus every synthetic image."""
    return {
        "small_real_only": held.accuracy(xt, yt, k, seed + 1, steps),
        "small_real_plus_synthetic": held.accuracy(
            torch.cat([xt, xs]), torch.cat([yt, ys]), k, seed + 1, steps
        ),
    }


def _every_class(ys: Tensor, classes: list[str], syn_dir: Path, real_dir: Path) -> None:
    """A classifier trained on synthetic images could never name a class they lack: refuse
    before any training."""
    absent = [c for k, c in enumerate(classes) if not bool((ys == k).any())]
    if absent:
        raise DataError(
            f"{syn_dir}: no synthetic images of class(es) {', '.join(absent)}, which the real "
            f"set {real_dir} has; generate every class (parallel generate images --per-class N)"
        )


def _read_train(
    train_dir: Path, classes: list[str], curve: list[int] | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The small real set, its labels mapped onto the reference set's classes.

    Raises:
        DataError: a class the reference set does not have.
        UserInputError: a curve size larger than some class holds.
    """
    from parallel.gan.images import read_image_folder

    xt, yt0, names, _ = read_image_folder(train_dir, SIZE)
    unknown = sorted(set(names) - set(classes))
    if unknown:
        raise DataError(f"{train_dir}: classes {unknown} are not among the real classes {classes}")
    yt = torch.tensor([classes.index(names[int(i)]) for i in yt0])
    if curve:
        _check_curve(curve, yt, classes)
    return xt, yt


def _curve(
    sizes: list[int],
    xt: Tensor,
    yt: Tensor,
    xs: Tensor,
    ys: Tensor,
    held: HeldOut,
    classes: list[str],
    seed: int,
    steps: int,
) -> list[dict[str, float]]:
    """Held-out accuracy trained on the first k real images per class, with and without
    the synthetic set, for each k in ``sizes``."""
    rows = []
    for k in sorted(set(sizes)):
        pick = torch.cat([(yt == c).nonzero().flatten()[:k] for c in range(len(classes))])
        xk, yk = xt[pick], yt[pick]
        both = torch.cat([xk, xs]), torch.cat([yk, ys])
        rows.append(
            {
                "real_per_class": k,
                "real_only": held.accuracy(xk, yk, len(classes), seed + 1, steps),
                "real_plus_synthetic": held.accuracy(*both, len(classes), seed + 1, steps),
            }
        )
    return rows


def _check_curve(sizes: list[int], yt: Tensor, classes: list[str]) -> None:
    """Raises UserInputError for a size that is not positive or exceeds a class's images."""
    counts = torch.bincount(yt, minlength=len(classes))
    worst = int(counts.argmin())
    bad = [k for k in sizes if k <= 0 or k > int(counts[worst])]
    if bad:
        raise UserInputError(
            f"--curve {' '.join(map(str, bad))}: sizes must be 1..{int(counts[worst])} "
            f"(class {classes[worst]!r} has {int(counts[worst])} images in --train)"
        )


def _curve_png(rows: list[dict[str, float]]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = [r["real_per_class"] for r in rows]
    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
    ax.plot(k, [r["real_only"] for r in rows], "o-", label="real only")
    ax.plot(k, [r["real_plus_synthetic"] for r in rows], "s--", label="real + synthetic")
    ax.set_xlabel("real images per class")
    ax.set_ylabel("held-out real accuracy")
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _utility_html(m: dict[str, Any]) -> str:
    u = m["utility"]
    base = {c: u["real_only"][f"{c}:accuracy"]["mean"] for c in ("cnn", "logistic")}

    def cell(arm: str, c: str) -> str:
        v = u[arm][f"{c}:accuracy"]
        se = "" if v["se"] != v["se"] else f" ± {v['se']:.3f}"  # NaN with one seed
        gain = "" if arm == "real_only" else f" ({v['mean'] - base[c]:+.3f})"
        return f"<td>{v['mean']:.3f}{se}{gain}</td>"

    rows = "".join(f"<tr><td>{a}</td>{cell(a, 'cnn')}{cell(a, 'logistic')}</tr>" for a in u)
    return f"""<h2>Utility against every baseline</h2>
<p class="note">Accuracy on the held-out real images (mean ± s.e. over {m["seeds"]} seed(s);
in brackets the change against the small real set alone). xR adds R times as many images
as the small real set holds: synthetic ones, classical augmentations of the real ones
(random affine and elastic), or noisy copies. Where a synthetic arm does not beat the
augmentation arm of the same size, generation does not pay.</p>
<table><tr><th>trained on</th><th>small CNN</th><th>logistic regression</th></tr>{rows}</table>"""


def _html(m: dict[str, Any], syn_grid: str, real_grid: str) -> str:
    rows = [("synthetic", m["synthetic"])]
    if "noisy_copies_baseline" in m:
        rows.append(("noisy copies of the small real set (baseline)", m["noisy_copies_baseline"]))
    fid = "".join(
        f"<tr><td>{name}</td><td>{v['frechet']:.2f}</td><td>{v['precision']:.3f}</td><td>{v['recall']:.3f}</td></tr>"
        for name, v in rows
    )
    tstr = "".join(f"<tr><td>{k}</td><td>{v:.3f}</td></tr>" for k, v in m["tstr"].items())
    curve = _utility_html(m) if m.get("utility") else ""
    if m.get("augmentation_curve"):
        rows = m["augmentation_curve"]
        cells = "".join(
            f"<tr><td>{r['real_per_class']}</td><td>{r['real_only']:.3f}</td>"
            f"<td>{r['real_plus_synthetic']:.3f}</td></tr>"
            for r in rows
        )
        curve += f"""<h2>Augmentation curve</h2>
<p class="note">Held-out real accuracy against the real images used per class, with and
without the {m["synthetic_images"]} synthetic images.</p>
<table><tr><th>real per class</th><th>real only</th><th>real + synthetic</th></tr>{cells}</table>
<img alt="augmentation curve" src="data:image/png;base64,{_curve_png(rows)}">"""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Vision evaluation</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em auto;max-width:1000px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px}}.note{{color:#555}}</style></head><body>
<h1>Synthetic images: fidelity and utility</h1>
<p class="note">{m["real_heldout"]} held-out real images, {m["synthetic_images"]} synthetic. {m["note"]}
(its accuracy on the reference set: {m["feature_net_accuracy_on_reference"]:.3f}).</p>
<h2>Fidelity (Fréchet distance: lower is better; precision and recall: 1 is best)</h2>
<table><tr><th>set</th><th>Fréchet distance</th><th>precision</th><th>recall</th></tr>{fid}</table>
<h2>Utility: accuracy on held-out real images (TSTR)</h2>
<table><tr><th>trained on</th><th>accuracy</th></tr>{tstr}</table>
{curve}
<h2>Samples per class</h2><p>synthetic</p><img alt="synthetic" src="data:image/png;base64,{syn_grid}">
<p>held-out real</p><img alt="real" src="data:image/png;base64,{real_grid}">
</body></html>"""
