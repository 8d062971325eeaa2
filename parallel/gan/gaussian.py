"""A class-conditional Gaussian image generator for a few images per class.

``parallel train IMAGES_DIR --model gaussian``: the image twin of the naive table
generator (:mod:`parallel.gan.naive`). It fits in one pass, with no training loop:

* each class's mean image;
* one within-class covariance shared by every class (the residuals from the class means,
  pooled), shrunk toward a multiple of the identity by Ledoit and Wolf's (2004) rule, so
  that 100 images can estimate the spread of 1,024 pixels;
* a sample is a class mean plus a draw of that spread, then deformed by one of the
  classical transforms (random affine or elastic, :mod:`parallel.vision.augment`).

``parallel train IMAGES_DIR --model kernel`` fits the same spread and also keeps the real
images: a kernel density estimate whose kernel is built for strokes. A draw takes a real
image of the class, adds half of the pooled spread, moves its pen width by a random
fraction toward a 3x3 dilation or erosion, and bends it by a random affine map and then
an elastic distortion. Each part is one classical augmentation does not have (the
pixel spread learned from the set, the pen width, both bends on one image). With ten
digits per class it is the generator that teaches the small CNN more than classical
augmentation of the same size does, at 10x the small set; logistic regression on the
pixels does better with the plain Gaussian (``benchmarks/README.md``, "The kernel image
generator").

Why this shape (measured in ``benchmarks/README.md``, "Digits"): with ten digits per
class the DCGAN's images carry less than the real ones. A class mean with the pooled
spread is a model whose few parameters 100 images can pin. The deformations add the
invariances that classical augmentation assumes. Either alone did not help logistic
regression on the pixels; the two together did.

The shrunk covariance is never formed: with ``S`` the pooled residuals' covariance
(``R.T @ R / n``) and ``delta`` the shrinkage, a draw is ``sqrt(1 - delta) * R.T @ w /
sqrt(n) + sqrt(delta * mu) * e`` with ``w`` and ``e`` standard normal, whose covariance is
``(1 - delta) * S + delta * mu * I``, Ledoit-Wolf's estimate. Memory grows with the
images kept (at most :data:`MAX_RESIDUALS`), not with the pixels squared.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from parallel.core.errors import DataError

WEIGHTS = "gaussian.npz"
#: the models this module fits: the Gaussian, and the kernel estimate around the real images
MODELS = ("gaussian", "kernel")
#: the kernel's share of the pooled spread added to a real image (its bandwidth)
KERNEL_SPREAD = 0.5
#: residuals kept to draw the spread from (a random subset of a larger set)
MAX_RESIDUALS = 5000


def fit_gaussian_images(
    x: torch.Tensor,
    y: torch.Tensor,
    out: Path,
    meta: dict[str, Any],
    seed: int = 0,
    model: str = "gaussian",
) -> dict[str, float]:
    """Fit the generator on images ``x`` (N, C, H, W) in [-1, 1] with labels ``y`` and
    write it to ``out`` (``images.json`` from ``meta`` plus :data:`WEIGHTS`). ``model``
    ``"kernel"`` also keeps the images (at most :data:`MAX_RESIDUALS`, a random subset
    with every class kept) as 8-bit grey levels.

    Returns:
        the fit's figures: the shrinkage and the mean pixel variance.
    """
    from sklearn.covariance import ledoit_wolf_shrinkage

    if model not in MODELS:
        raise ValueError(f"model {model!r}: one of {', '.join(MODELS)}")
    flat = x.flatten(1).numpy().astype(np.float64)
    labels = y.numpy()
    k = len(meta["classes"])
    means = np.stack([flat[labels == c].mean(0) for c in range(k)])
    resid = flat - means[labels]
    if len(resid) > MAX_RESIDUALS:
        keep = np.random.default_rng(seed).choice(len(resid), MAX_RESIDUALS, replace=False)
        resid = resid[np.sort(keep)]
    # the residuals are centred per class already; the MLE covariance (1/n), as LW uses
    delta = float(ledoit_wolf_shrinkage(resid, assume_centered=True))
    mu = float(np.mean(resid**2))
    kept = {}
    if model == "kernel":
        kept = _kept_images(x, labels, k, seed)
    out.mkdir(parents=True, exist_ok=True)
    np.savez(
        out / WEIGHTS,
        means=means.astype(np.float32),
        residuals=resid.astype(np.float32),
        shrinkage=np.float64(delta),
        mu=np.float64(mu),
        **kept,
    )
    (out / "images.json").write_text(json.dumps({**meta, "model": model}, indent=1))
    return {"shrinkage": delta, "pixel_variance": mu}


def _kept_images(x: torch.Tensor, labels: np.ndarray, k: int, seed: int) -> dict[str, Any]:
    """The kernel's centres: the images as uint8, at most :data:`MAX_RESIDUALS` in all
    (the same share of every class, at least one each)."""
    rng = np.random.default_rng(seed + 1)
    cap = max(1, MAX_RESIDUALS // k)
    idx = np.concatenate(
        [
            np.sort(rng.permutation(np.flatnonzero(labels == c))[:cap])
            for c in range(k)
            if (labels == c).any()
        ]
    )
    grey = ((x[idx].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    return {"images": grey, "labels": labels[idx].astype(np.int64)}


def pen_width(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Each image's strokes moved by a random fraction toward their 3x3 grey dilation
    (thicker) or erosion (thinner), half each: the pen that augmentation never changes."""
    import torch.nn.functional as F

    n = len(x)
    dilated = F.max_pool2d(x, 3, 1, 1)
    eroded = -F.max_pool2d(-x, 3, 1, 1)
    frac = torch.rand(n, 1, 1, 1, generator=gen)
    thicker = torch.rand(n, 1, 1, 1, generator=gen) < 0.5
    return torch.where(thicker, dilated, eroded) * frac + x * (1 - frac)


class GaussianDraw:
    """Draws images of one class from a folder written by :func:`fit_gaussian_images`."""

    def __init__(self, folder: Path, shape: tuple[int, int, int]) -> None:
        try:  # no pickles: arrays only
            with np.load(folder / WEIGHTS, allow_pickle=False) as z:
                self.means = torch.from_numpy(z["means"])
                self.resid = torch.from_numpy(z["residuals"])
                self.delta, self.mu = float(z["shrinkage"]), float(z["mu"])
                # `--model kernel` keeps the real images as the estimate's centres
                self.images = torch.from_numpy(z["images"]) if "images" in z else None
                self.labels = torch.from_numpy(z["labels"]) if "labels" in z else None
        except (OSError, KeyError, ValueError) as exc:
            raise DataError(
                f"{folder / WEIGHTS}: not a Gaussian image generator ({exc}); train one with "
                "`parallel train IMAGES_DIR --model gaussian --out DIR`"
            ) from None
        self.shape = shape
        if self.means.shape[1] != int(np.prod(shape)):
            raise DataError(
                f"{folder / WEIGHTS}: {self.means.shape[1]} pixels per image, but images.json "
                f"says {shape}; train the generator again"
            )

    def spread(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """``n`` draws (n, pixels) of the shrunk pooled spread, centred on zero."""
        m, d = self.resid.shape
        w = torch.randn(n, m, generator=gen)
        e = torch.randn(n, d, generator=gen)
        low_rank = np.sqrt(1 - self.delta) * (w @ self.resid) / np.sqrt(m)
        return low_rank + np.sqrt(self.delta * self.mu) * e

    def gaussian(self, label: int, n: int, gen: torch.Generator) -> torch.Tensor:
        """``n`` draws (n, pixels) of class ``label``'s Gaussian, before any clipping or
        deformation: the class mean plus the shrunk pooled spread."""
        return self.means[label] + self.spread(n, gen)

    def __call__(self, label: int, n: int, gen: torch.Generator) -> torch.Tensor:
        """``n`` images of class ``label``, (n, C, H, W) in [-1, 1]."""
        if self.images is not None:
            return self.kernel(label, n, gen)
        from parallel.vision.augment import elastic, random_affine

        x = self.gaussian(label, n, gen).clamp(-1, 1).view(n, *self.shape)
        half = n // 2  # half of them bent by an affine map, half elastically
        parts = [elastic(x[half:], gen)]
        if half:  # affine_grid refuses an empty batch
            parts.insert(0, random_affine(x[:half], gen))
        return torch.cat(parts).clamp(-1, 1)

    def kernel(self, label: int, n: int, gen: torch.Generator) -> torch.Tensor:
        """``n`` draws of the kernel estimate of class ``label``, (n, C, H, W) in [-1, 1]:
        a real image plus :data:`KERNEL_SPREAD` of the pooled spread, its pen width moved,
        then bent by an affine map and an elastic distortion."""
        from parallel.vision.augment import elastic, random_affine

        assert self.images is not None and self.labels is not None
        if n == 0:  # affine_grid refuses an empty batch
            return torch.empty(0, *self.shape)
        own = torch.nonzero(self.labels == label)[:, 0]
        if len(own) == 0:
            raise DataError(f"class {label}: the kernel generator kept no image of it")
        centres = self.images[own[torch.randint(len(own), (n,), generator=gen)]]
        x = centres.float().view(n, *self.shape) / 127.5 - 1
        noise = self.spread(n, gen).view(n, *self.shape)
        x = (x + KERNEL_SPREAD * noise).clamp(-1, 1)
        x = pen_width(x, gen)
        return elastic(random_affine(x, gen), gen).clamp(-1, 1)
