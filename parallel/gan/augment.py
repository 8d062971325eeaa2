"""DiffAugment (Zhao et al. 2020) for GANs trained on few images.

The same random, differentiable transformations are applied to real and generated images
before the discriminator sees them, so D cannot memorise the few real images and G still
gets gradients through the augmentation. Policies: ``color`` (brightness, saturation,
contrast), ``translation`` (shift by up to 1/8 of the size, zero padding) and ``cutout``
(a zeroed square of half the size). All randomness comes from the given generator.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _rand(shape: tuple[int, ...], g: torch.Generator, like: Tensor) -> Tensor:
    return torch.rand(shape, generator=g).to(like.device, like.dtype)


def diff_augment(x: Tensor, g: torch.Generator, policy: str = "color,translation,cutout") -> Tensor:
    """Augment a batch of images (B, C, H, W) in [-1, 1]; returns the same shape."""
    b, c, h, w = x.shape
    for p in policy.split(","):
        if p == "color":
            x = x + (_rand((b, 1, 1, 1), g, x) - 0.5)
            if c > 1:
                mean = x.mean(dim=1, keepdim=True)
                x = (x - mean) * (_rand((b, 1, 1, 1), g, x) * 2) + mean
            mean = x.mean(dim=(1, 2, 3), keepdim=True)
            x = (x - mean) * (_rand((b, 1, 1, 1), g, x) + 0.5) + mean
        elif p == "translation":
            sy, sx = max(h // 8, 1), max(w // 8, 1)
            ty = torch.randint(-sy, sy + 1, (b,), generator=g)
            tx = torch.randint(-sx, sx + 1, (b,), generator=g)
            gy = (torch.arange(h)[None, :] - ty[:, None]).to(x.device)  # (B, H) source rows
            gx = (torch.arange(w)[None, :] - tx[:, None]).to(x.device)
            valid = ((gy >= 0) & (gy < h))[:, :, None] & ((gx >= 0) & (gx < w))[:, None, :]
            gy, gx = gy.clamp(0, h - 1), gx.clamp(0, w - 1)
            bi = torch.arange(b, device=x.device)[:, None, None]
            x = x.permute(0, 2, 3, 1)[bi, gy[:, :, None], gx[:, None, :]].permute(0, 3, 1, 2)
            x = x * valid[:, None].to(x.dtype)
        elif p == "cutout":
            ch, cw = h // 2, w // 2
            cy = torch.randint(0, h - ch + 1, (b,), generator=g).to(x.device)
            cx = torch.randint(0, w - cw + 1, (b,), generator=g).to(x.device)
            ys = torch.arange(h, device=x.device)[None, :]
            xs = torch.arange(w, device=x.device)[None, :]
            in_y = (ys >= cy[:, None]) & (ys < cy[:, None] + ch)
            in_x = (xs >= cx[:, None]) & (xs < cx[:, None] + cw)
            keep = ~(in_y[:, :, None] & in_x[:, None, :])
            x = x * keep[:, None].to(x.dtype)
        elif p:
            raise ValueError(f"unknown DiffAugment policy {p!r}; use color, translation, cutout")
    return x
