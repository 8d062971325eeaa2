"""Jacobian-based truncation (JBT): drop the latent draws that land between the modes.

A generator is continuous in its latent, so to place mass on disjoint modes it must
stretch thin slices of latent space over the gaps between them, and the samples drawn
from those slices ("bridges") are off the data. Where the generator stretches, its
Jacobian is large: Tanielian et al. (ICML 2020, "Learning disconnected manifolds: a no
GAN's land") show that dropping the latent draws with the largest Jacobian Frobenius norm
removes the bridges while the modes keep their mass. It is a sampling rule, like the
truncation trick: the generator is unchanged, and ``keep = 1`` is plain sampling.

``truncated_latent`` draws ``ceil(n / keep)`` latent vectors, computes ||J_G(z)||_F for
each (exactly, by forward-mode differentiation: one Jacobian-vector product per latent
dimension, so it suits the small latents of the ``mlp`` nets) and keeps the ``n`` with the
smallest norm, in the order they were drawn.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from parallel.core.errors import UserInputError

LatentFn = Callable[[int], Tensor]  # n -> (n, Z) latent vectors


def check_keep(keep: float) -> float:
    """``keep`` itself when it is a share in (0, 1].

    Raises:
        UserInputError: ``keep`` is outside (0, 1].
    """
    if not 0.0 < keep <= 1.0:
        raise UserInputError(
            f"keep {keep}: the share of latent draws kept must be in (0, 1]; 1 is plain sampling"
        )
    return keep


@torch.no_grad()
def jacobian_norms(g: nn.Module, z: Tensor, chunk: int = 8192) -> Tensor:
    """||dG/dz||_F for every row of ``z`` (n, Z) -> (n,); ``g`` maps (B, Z) -> (B, ...).

    The generator must act on each row alone (no batch statistics, so eval mode).
    """

    def one(v: Tensor) -> Tensor:  # (Z,) -> (D,)
        return g(v[None])[0].flatten()

    jac = torch.func.vmap(torch.func.jacfwd(one))
    return torch.cat([jac(part).flatten(1).norm(dim=1) for part in z.split(chunk)])


def truncated_latent(g: nn.Module, n: int, keep: float, draw: LatentFn) -> Tensor:
    """``n`` latent vectors (n, Z) for ``g``: of ``ceil(n / keep)`` drawn with ``draw``, the
    ``n`` where ``g``'s Jacobian norm is smallest, in the order drawn.

    Raises:
        UserInputError: ``keep`` is outside (0, 1].
    """
    check_keep(keep)
    z = draw(n if keep == 1.0 else math.ceil(n / keep))
    if len(z) == n:
        return z
    norms = jacobian_norms(g, z)
    kept = torch.topk(norms, n, largest=False).indices.sort().values
    return z[kept]


__all__ = ["check_keep", "jacobian_norms", "truncated_latent"]
