"""GAN losses and penalties, by name.

Each loss maps discriminator outputs (logits or critic values, shape (B,)) to the
discriminator's and the generator's loss. Penalties need the discriminator itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from parallel.core.registry import Registry


@dataclass(frozen=True)
class GANLoss:
    """A pair of loss functions plus what the trainer must add around them."""

    name: str
    d_loss: Callable[[Tensor, Tensor], Tensor]  # (real (B,), fake (B,)) -> scalar
    g_loss: Callable[[Tensor], Tensor]  # fake (B,) -> scalar
    gradient_penalty: bool = False  # WGAN-GP
    clip: float | None = None  # weight clipping of the critic (WGAN)


LOSSES: Registry[GANLoss] = Registry("GAN loss")


def _register(loss: GANLoss) -> None:
    LOSSES.add(loss.name, loss)


def _bce_d(r: Tensor, f: Tensor) -> Tensor:
    """The original discriminator loss: -log D(x) - log(1 - D(G(z)))."""
    return F.binary_cross_entropy_with_logits(
        r, torch.ones_like(r)
    ) + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))


# Goodfellow et al. 2014: G minimises log(1 - D(G(z)))
_register(
    GANLoss(
        "minimax", _bce_d, lambda f: -F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))
    )
)
# the same D, but G maximises log D(G(z)) (strong gradients early on)
_register(
    GANLoss(
        "non-saturating",
        _bce_d,
        lambda f: F.binary_cross_entropy_with_logits(f, torch.ones_like(f)),
    )
)
# Mao et al. 2017 (a=0, b=c=1)
_register(
    GANLoss(
        "least-squares",
        lambda r, f: 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f**2).mean(),
        lambda f: 0.5 * ((f - 1) ** 2).mean(),
    )
)
# Arjovsky et al. 2017: critic with weights clipped to [-c, c]
_register(GANLoss("wasserstein", lambda r, f: f.mean() - r.mean(), lambda f: -f.mean(), clip=0.01))
# Gulrajani et al. 2017: the same objective plus a gradient penalty
_register(
    GANLoss("wgan-gp", lambda r, f: f.mean() - r.mean(), lambda f: -f.mean(), gradient_penalty=True)
)
# Lim & Ye 2017 / Miyato et al. 2018
_register(
    GANLoss("hinge", lambda r, f: F.relu(1 - r).mean() + F.relu(1 + f).mean(), lambda f: -f.mean())
)


def gradient_penalty(
    d: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP: E[(||grad D(x_hat)||_2 - 1)^2] at x_hat = a real + (1 - a) fake.

    One interpolation weight ``a`` per sample (not per element), drawn from U(0, 1).

    Args:
        d: the critic, (B, ...) -> (B,).
        real: (B, ...) real samples.
        fake: (B, ...) generated samples (detached).
    """
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    a = torch.rand(shape, generator=generator, device="cpu").to(real.device, real.dtype)
    x_hat = (a * real + (1 - a) * fake).requires_grad_(True)
    out = d(x_hat)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def r1_penalty(d: Callable[[Tensor], Tensor], real: Tensor) -> Tensor:
    """R1 (Mescheder et al. 2018): E[||grad D(x)||^2] on real samples."""
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(d(x).sum(), x, create_graph=True)
    return grad.flatten(1).pow(2).sum(dim=1).mean()
