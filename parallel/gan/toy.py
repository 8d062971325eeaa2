"""PacGAN's toy mode-coverage settings (Lin et al. 2018), exactly as REFERENCES.md gives them.

* ring: 8 modes at (cos 2πk/8, sin 2πk/8), k = 0..7, σ = 0.01;
* grid: 25 modes at {-4, -2, 0, 2, 4}², σ = 0.05;
* a sample is *high quality* if it lies within 3σ of its nearest mode;
* a mode is *captured* if it is the nearest mode of at least one high-quality sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Toy:
    name: str
    modes: np.ndarray  # (M, 2)
    sigma: float

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, 2) samples: a uniformly chosen mode plus isotropic Gaussian noise."""
        k = rng.integers(len(self.modes), size=n)
        return self.modes[k] + rng.normal(0, self.sigma, (n, 2))

    def score(self, x: np.ndarray) -> dict[str, float]:
        """Modes captured and the share of high-quality samples for (n, 2) samples."""
        d = np.linalg.norm(x[:, None, :] - self.modes[None, :, :], axis=-1)  # (n, M)
        nearest = d.argmin(axis=1)
        hq = d[np.arange(len(x)), nearest] <= 3 * self.sigma
        return {
            "modes": int(len(np.unique(nearest[hq]))),
            "hq": float(hq.mean()),
            "n_modes": int(len(self.modes)),
        }


def ring() -> Toy:
    k = np.arange(8)  # the endpoint excluded: 8 distinct modes
    return Toy("ring", np.c_[np.cos(2 * np.pi * k / 8), np.sin(2 * np.pi * k / 8)], 0.01)


def grid() -> Toy:
    v = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
    return Toy("grid", np.array([(a, b) for a in v for b in v]), 0.05)


TOYS = {"ring": ring, "grid": grid}
