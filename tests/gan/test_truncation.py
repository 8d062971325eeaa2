"""Jacobian-based truncation: exact Jacobian norms, which draws are kept, and the sampler."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from parallel.core.errors import UserInputError
from parallel.gan.toy import Toy
from parallel.gan.train import TrainConfig, Trainer
from parallel.gan.truncation import jacobian_norms, truncated_latent


class Stretch(nn.Module):
    """G(z) = (tanh(a z1), z2): stretches most near z1 = 0, a known "bridge"."""

    def __init__(self, a: float = 10.0) -> None:
        super().__init__()
        self.a = a

    def forward(self, z: torch.Tensor, ctx: torch.Tensor | None = None) -> torch.Tensor:
        return torch.stack([torch.tanh(self.a * z[:, 0]), z[:, 1]], dim=1)


def test_norms_match_autograd_on_a_net() -> None:
    torch.manual_seed(0)
    g = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
    z = torch.randn(20, 3)
    got = jacobian_norms(g, z)
    want = torch.stack(
        [torch.autograd.functional.jacobian(lambda v: g(v[None])[0], zi).norm() for zi in z]
    )
    assert got.shape == (20,)
    torch.testing.assert_close(got, want)


def test_norms_of_a_known_map() -> None:
    z = torch.tensor([[0.0, 1.0], [0.3, -2.0], [2.0, 0.5]])
    # dG/dz = diag(a (1 - tanh^2(a z1)), 1)
    want = torch.sqrt((10 * (1 - torch.tanh(10 * z[:, 0]) ** 2)) ** 2 + 1)
    torch.testing.assert_close(jacobian_norms(Stretch(), z), want)


def test_truncation_drops_the_stretched_draws_and_keeps_order() -> None:
    g = Stretch()
    gen = torch.Generator().manual_seed(3)
    pool = torch.randn(1250, 2, generator=gen)  # what ceil(1000 / 0.8) draws give
    z = truncated_latent(g, 1000, 0.8, lambda m: pool[:m])
    assert z.shape == (1000, 2)
    kept = {tuple(r) for r in z.tolist()}
    dropped = torch.tensor([r for r in pool.tolist() if tuple(r) not in kept])
    assert len(dropped) == 250
    # everything dropped sat nearer the stretch at z1 = 0 than anything kept
    assert dropped[:, 0].abs().max() <= z[:, 0].abs().min() + 1e-6
    # the kept draws come in the order they were drawn
    idx = [pool.tolist().index(r) for r in z.tolist()[:50]]
    assert idx == sorted(idx)


def test_keep_one_is_plain_sampling_and_bad_keep_is_refused(tmp_path: Path) -> None:
    cfg = TrainConfig(steps=5, batch_size=100, g_hidden=16, d_hidden=16, pieces=1, ema=0.9)
    tr = Trainer(cfg, torch.randn(500, 2), tmp_path, "cpu")
    for _ in range(3):
        tr.train_step()
    a = tr.sample(300, torch.Generator().manual_seed(1))
    b = tr.sample(300, torch.Generator().manual_seed(1), keep=1.0)
    c = tr.sample(300, torch.Generator().manual_seed(1), keep=0.7)
    torch.testing.assert_close(a, b)
    assert c.shape == (300, 2) and not torch.equal(a, c)
    assert tr.G.training  # sampling leaves the generator in training mode
    for bad in (0.0, 1.5):
        with pytest.raises(UserInputError, match=r"keep .* must be in \(0, 1\]"):
            tr.sample(10, torch.Generator(), keep=bad)


def test_truncation_raises_precision_of_a_trained_gan(tmp_path: Path) -> None:
    """Two modes: a generator continuous in its latent must join them by a bridge of
    off-data samples; truncating the most stretched draws removes it and keeps both modes."""
    toy = Toy("two", np.array([[-1.0, 0.0], [1.0, 0.0]]), 0.05)
    raw = toy.sample(20_000, np.random.default_rng(0))
    cfg = TrainConfig(
        steps=300, batch_size=200, pac=2, lr_g=2e-3, lr_d=2e-3, g_hidden=64, g_layers=3,
        d_hidden=64, pieces=3, loss="hinge", ema=0.9,
    )  # fmt: skip
    tr = Trainer(cfg, torch.tensor(raw, dtype=torch.float32), tmp_path, "cpu")
    for _ in range(cfg.steps):
        tr.train_step()
    gen = torch.Generator()
    plain = toy.score(tr.sample(4000, gen.manual_seed(5)).numpy())
    trunc = toy.score(tr.sample(4000, gen.manual_seed(5), keep=0.8).numpy())
    assert plain["modes"] == 2 and plain["hq"] < 0.99  # the bridge is there
    assert trunc["modes"] == 2 and trunc["hq"] > plain["hq"] + 0.015, (plain, trunc)
