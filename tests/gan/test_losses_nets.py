"""Each GAN loss and net, checked against its definition and its shapes."""

from __future__ import annotations

import math

import pytest
import torch

from parallel.core.errors import RegistryError
from parallel.gan.losses import LOSSES, gradient_penalty, r1_penalty
from parallel.gan.nets import NETS, NetSpec, build


def test_losses_by_definition() -> None:
    r, f = torch.tensor([2.0, 2.0]), torch.tensor([-2.0, -2.0])
    sp = lambda v: math.log1p(math.exp(-v))  # noqa: E731  -log sigmoid(v)
    assert LOSSES.get("non-saturating").d_loss(r, f).item() == pytest.approx(2 * sp(2.0), rel=1e-5)
    assert LOSSES.get("non-saturating").g_loss(f).item() == pytest.approx(sp(-2.0), rel=1e-5)
    # minimax G minimises log(1 - D(G(z))) = -softplus(f)
    assert LOSSES.get("minimax").g_loss(f).item() == pytest.approx(-sp(2.0), rel=1e-5)
    assert LOSSES.get("least-squares").d_loss(r, f).item() == pytest.approx(0.5 * 1 + 0.5 * 4)
    assert LOSSES.get("hinge").d_loss(r, f).item() == 0.0  # both margins satisfied
    assert LOSSES.get("hinge").g_loss(f).item() == 2.0
    w = LOSSES.get("wasserstein")
    assert w.d_loss(r, f).item() == -4.0 and w.clip == 0.01
    assert LOSSES.get("wgan-gp").gradient_penalty


def test_gradient_penalties_of_a_linear_critic() -> None:
    w = torch.tensor([0.6, 0.8])  # ||w|| = 1: WGAN-GP penalty is zero
    critic = lambda x: x @ w  # noqa: E731
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    assert gradient_penalty(critic, real, fake).item() == pytest.approx(0.0, abs=1e-6)
    critic2 = lambda x: x @ (2 * w)  # noqa: E731
    assert gradient_penalty(critic2, real, fake).item() == pytest.approx(1.0, rel=1e-5)
    assert r1_penalty(critic2, real).item() == pytest.approx(4.0, rel=1e-5)


def test_one_interpolation_weight_per_sample() -> None:
    seen = []

    def critic(x: torch.Tensor) -> torch.Tensor:
        seen.append(x.detach().clone())
        return x.flatten(1).sum(1)

    real, fake = torch.ones(4, 3, 2, 2), torch.zeros(4, 3, 2, 2)
    gradient_penalty(critic, real, fake)
    x_hat = seen[0]
    for b in range(4):  # every element of a sample got the same weight
        assert torch.allclose(x_hat[b], x_hat[b].flatten()[0].expand_as(x_hat[b]))


@pytest.mark.parametrize(
    "name,shape", [("mlp", (5,)), ("dcgan", (3, 32, 32)), ("dcgan", (1, 64, 64)), ("gru", (24, 4))]
)
@pytest.mark.parametrize("pac,sn,ctx", [(1, False, 0), (2, True, 3)])
def test_nets_shapes(name: str, shape: tuple[int, ...], pac: int, sn: bool, ctx: int) -> None:
    spec = NetSpec(shape, z_dim=6, ctx_dim=ctx, g_hidden=16, d_hidden=16, pac=pac, spectral_norm=sn)
    g, d = build(name, spec)
    z = torch.randn(8, 6)
    c = torch.randn(8, ctx) if ctx else None
    x = g(z, c)
    assert tuple(x.shape) == (8, *shape)  # G: (B, *sample_shape)
    out = d(x, c)
    assert tuple(out.shape) == (8 // pac,)  # D: one score per pack
    out.sum().backward()
    assert all(p.grad is not None for p in d.parameters())


def test_unknown_names_list_valid_ones() -> None:
    with pytest.raises(RegistryError, match="valid names are: hinge, least-squares"):
        LOSSES.get("wgan-xyz")
    with pytest.raises(RegistryError, match="dcgan, gru, mlp"):
        NETS.get("transformer")


def test_discrete_latent_appends_a_one_hot() -> None:
    from parallel.gan.train import TrainConfig, latent

    cfg = TrainConfig(z_dim=3, z_categories=5)
    z = latent(400, cfg, torch.Generator().manual_seed(0))
    assert z.shape == (400, 8)
    one_hot = z[:, 3:]
    assert torch.all(one_hot.sum(dim=1) == 1) and torch.all((one_hot == 0) | (one_hot == 1))
    assert len(torch.unique(one_hot.argmax(dim=1))) == 5  # every category is drawn
