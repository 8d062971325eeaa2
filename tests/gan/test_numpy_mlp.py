"""Sampling without torch: the numpy generator and its Box-Muller latent."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from parallel.gan.numpy_mlp import NumpyMLP, standard_normal


def test_box_muller_draws_are_standard_normal_and_seeded() -> None:
    z = standard_normal(np.random.default_rng(0), 100_001, 3)  # an odd count of values
    assert z.shape == (100_001, 3) and z.dtype == np.float32
    flat = z.ravel().astype(np.float64)
    assert abs(flat.mean()) < 0.01 and abs(flat.std() - 1) < 0.01
    assert stats.kstest(flat, "norm").pvalue > 0.01
    # columns (which pair up cosines with sines of other rows) are uncorrelated
    corr = np.corrcoef(z.T)
    assert np.abs(corr - np.eye(3)).max() < 0.02
    # the tails are where a normal's are: 0.27% beyond 3 sigma
    assert np.mean(np.abs(flat) > 3) == pytest.approx(0.0027, abs=0.0006)
    again = standard_normal(np.random.default_rng(0), 100_001, 3)
    assert np.array_equal(z, again)
    assert not np.array_equal(z, standard_normal(np.random.default_rng(1), 100_001, 3))


def test_numpy_mlp_matches_torch() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 4))
    x = standard_normal(np.random.default_rng(2), 20_000, 5)
    want = net(torch.from_numpy(x)).detach().numpy()
    got = NumpyMLP.from_torch(net)(x, chunk=4096)  # several chunks and a short last one
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="only Linear/ReLU stacks"):
        NumpyMLP.from_torch(nn.Sequential(nn.Linear(2, 2), nn.Tanh()))
