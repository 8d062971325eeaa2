"""PacGAN's toy mode-coverage settings (Lin et al. 2018), exactly as docs/metrics.md gives them.

* ring: 8 modes at (cos 2πk/8, sin 2πk/8), k = 0..7, σ = 0.01;
* grid: 25 modes at {-4, -2, 0, 2, 4}², σ = 0.05;
* a sample is *high quality* if it lies within 3σ of its nearest mode;
* a mode is *captured* if it is the nearest mode of at least one high-quality sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


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


def vehicle_table(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` synthetic vehicle records at a signalised intersection, for benchmarks and tests.

    Mixed types with the structure a tabular GAN must learn: categorical approach,
    movement (depends on approach), vehicle class and lane; a bimodal speed at the stop
    line (vehicles that met a red are slow, the rest near free flow; trucks slower); a
    lognormal headway; delay and travel time that follow from whether the vehicle stopped.
    """
    approach = rng.choice(np.array(["N", "S", "E", "W"]), n, p=[0.15, 0.15, 0.35, 0.35])
    major = np.isin(approach, ["E", "W"])
    u = rng.random(n)
    movement = np.where(
        major,
        np.where(u < 0.1, "left", np.where(u < 0.85, "through", "right")),
        np.where(u < 0.3, "left", np.where(u < 0.6, "through", "right")),
    )
    vclass = rng.choice(np.array(["car", "truck", "bus"]), n, p=[0.85, 0.1, 0.05])
    lane = np.where(movement == "left", 1, np.where(movement == "right", 3, rng.integers(1, 4, n)))
    stopped = rng.random(n) < np.where(major, 0.35, 0.6)
    heavy = vclass != "car"
    speed = np.where(stopped, rng.normal(15, 4, n), rng.normal(50, 5, n) - 7 * heavy).clip(1, None)
    headway = rng.lognormal(np.log(2.2), 0.55, n) + 0.6 * heavy
    delay = np.where(stopped, rng.gamma(3.0, 9.0, n), rng.exponential(2.0, n))
    travel = 300 / (speed / 3.6) * 0.5 + 300 / 13.9 * 0.5 + delay + rng.normal(0, 1.5, n)
    return pd.DataFrame(
        {
            "approach": approach,
            "movement": movement,
            "vclass": vclass,
            "lane": lane.astype(np.int64),
            "speed_kmh": speed.round(2),
            "headway_s": headway.round(3),
            "delay_s": delay.round(2),
            "travel_time_s": travel.round(2),
        }
    )
