"""Classical image augmentation: the free baseline that generated images must beat.

Two label-preserving transforms of a real image, seeded by a ``torch.Generator`` so that
the same seed gives the same images on every machine:

* :func:`random_affine`: a rotation, an isotropic scale and a shift, each drawn uniformly
  within its bound (the standard small-data augmentation for digits; no flips, as digits
  are not mirror-symmetric);
* :func:`elastic`: Simard, Steinkraus and Platt (2003), "Best practices for convolutional
  neural networks applied to visual document analysis": a random displacement per pixel,
  smoothed by a Gaussian of ``sigma`` pixels and scaled to ``alpha`` pixels.

:func:`augment` makes ``n`` images from a small set with half of each, cycling through
the real images so that every one of them is used about equally. Images are ``(N, C, H,
W)`` tensors in [-1, 1] with a background of -1 (the ImageFolder convention of
``parallel.gan.images``); what a transform moves in from outside the frame is background.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def _sample(x: Tensor, grid: Tensor) -> Tensor:
    # shift to a background of 0 so that the zero padding outside the frame is background
    return F.grid_sample(x + 1, grid, align_corners=False, padding_mode="zeros") - 1


def random_affine(
    x: Tensor,
    g: torch.Generator,
    *,
    rotate_deg: float = 15.0,
    scale: float = 0.1,
    shift: float = 0.1,
) -> Tensor:
    """Each image rotated by up to ``rotate_deg`` degrees, scaled by 1 +- ``scale`` and
    shifted by up to ``shift`` of its width and height."""
    n = len(x)

    def u(*shape: int) -> Tensor:
        return torch.rand(*shape, generator=g) * 2 - 1

    a = u(n) * math.radians(rotate_deg)
    s = 1 + u(n) * scale
    theta = torch.zeros(n, 2, 3)
    # affine_grid maps output to input coordinates: the inverse of the image's transform
    theta[:, 0, 0], theta[:, 0, 1] = torch.cos(a) / s, -torch.sin(a) / s
    theta[:, 1, 0], theta[:, 1, 1] = torch.sin(a) / s, torch.cos(a) / s
    theta[:, :, 2] = u(n, 2) * shift * 2  # the grid spans [-1, 1]: a width is 2
    return _sample(x, F.affine_grid(theta, list(x.shape), align_corners=False))


def _gaussian_kernel(sigma: float) -> Tensor:
    r = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    return k / k.sum()


def elastic(x: Tensor, g: torch.Generator, *, alpha: float = 34.0, sigma: float = 4.0) -> Tensor:
    """Simard et al.'s elastic distortion, in pixels of the image's own size."""
    n, _, h, w = x.shape
    field = torch.rand(n, 2, h, w, generator=g) * 2 - 1
    k = _gaussian_kernel(sigma)
    r = len(k) // 2
    # separable smoothing; reflect padding as scipy's gaussian_filter does (r < h, w)
    pad = min(r, h - 1, w - 1)
    k = k[r - pad : r + pad + 1]
    field = F.conv2d(
        F.pad(field.reshape(2 * n, 1, h, w), (pad, pad, 0, 0), mode="reflect"), k.view(1, 1, 1, -1)
    )
    field = F.conv2d(F.pad(field, (0, 0, pad, pad), mode="reflect"), k.view(1, 1, -1, 1))
    field = field.view(n, 2, h, w) * alpha
    # pixel centres in grid_sample's coordinates (align_corners=False): the identity grid
    ys, xs = torch.meshgrid(
        torch.linspace(-1 + 1 / h, 1 - 1 / h, h), torch.linspace(-1 + 1 / w, 1 - 1 / w, w),
        indexing="ij",
    )  # fmt: skip
    grid = torch.stack([xs + field[:, 0] * 2 / w, ys + field[:, 1] * 2 / h], dim=-1)
    return _sample(x, grid)


def augment(x: Tensor, y: Tensor, n: int, seed: int) -> tuple[Tensor, Tensor]:
    """``n`` augmented images of ``x`` with their labels: half random affine, half elastic.

    Raises:
        ValueError: an empty ``x`` (nothing to augment).
    """
    if len(x) == 0:
        raise ValueError("augment: no images to augment")
    g = torch.Generator().manual_seed(seed)
    order = torch.cat([torch.randperm(len(x), generator=g) for _ in range(-(-n // len(x)))])[:n]
    half = n // 2
    parts = [elastic(x[order[half:]], g)]
    if half:  # affine_grid refuses an empty batch
        parts.insert(0, random_affine(x[order[:half]], g))
    out = torch.cat(parts)
    return out.clamp(-1, 1), y[order]
