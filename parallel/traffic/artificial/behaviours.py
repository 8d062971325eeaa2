"""Behaviour models: where the artificial world's random values come from.

Every value a simulated driver needs (a desired speed, a discharge headway, an
inter-arrival time, a turning draw) comes from a :class:`Buffer` that samples a batch
of thousands at once from a behaviour model and hands values out one by one. This keeps
the per-vehicle cost at a list index, and lets a learned generator (one batched call)
replace a fitted distribution without touching the simulation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from parallel.core.registry import Registry

Sampler = Callable[[np.random.Generator, int], np.ndarray]

#: name -> factory(params...) -> sampler
SPEED_MODELS: Registry[Callable[..., Sampler]] = Registry("speed model")
HEADWAY_MODELS: Registry[Callable[..., Sampler]] = Registry("headway model")
ARRIVAL_MODELS: Registry[Callable[..., Sampler]] = Registry("arrival model")

MIN_SPEED_KMH = 5.0


@SPEED_MODELS.register("normal")
def normal_speed(mean_kmh: float, sd_kmh: float) -> Sampler:
    """Desired speeds in m/s, normal and truncated below at 5 km/h."""

    def sample(rng: np.random.Generator, n: int) -> np.ndarray:
        kmh = rng.normal(mean_kmh, sd_kmh, n)
        return np.maximum(kmh, MIN_SPEED_KMH) / 3.6

    return sample


@HEADWAY_MODELS.register("lognormal")
def lognormal_headway(mean_s: float, cv: float) -> Sampler:
    """Discharge headways in s, lognormal with the given mean and coefficient of variation."""
    sigma2 = np.log1p(cv * cv)
    mu = np.log(mean_s) - sigma2 / 2

    def sample(rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.lognormal(mu, np.sqrt(sigma2), n)

    return sample


@HEADWAY_MODELS.register("constant")
def constant_headway(mean_s: float, cv: float = 0.0) -> Sampler:
    """Every headway equals ``mean_s`` (``cv`` is ignored)."""

    def sample(rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, mean_s)

    return sample


@ARRIVAL_MODELS.register("poisson")
def poisson_arrivals(rate_veh_h: float) -> Sampler:
    """Inter-arrival times in s of a Poisson stream of ``rate_veh_h`` vehicles per hour."""
    scale = 3600.0 / rate_veh_h

    def sample(rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(scale, n)

    return sample


def uniform(rng: np.random.Generator, n: int) -> np.ndarray:
    """Uniform draws on [0, 1), for discrete choices such as turning."""
    return rng.random(n)


class Buffer:
    """Hands out values one at a time from batches of ``size`` drawn by ``sampler``."""

    __slots__ = ("_rng", "_sampler", "_size", "_values", "_i")

    def __init__(self, sampler: Sampler, rng: np.random.Generator, size: int = 4096) -> None:
        self._rng, self._sampler, self._size = rng, sampler, size
        self._values: list[float] = []
        self._i = 0

    def next(self) -> float:
        if self._i >= len(self._values):
            self._values = self._sampler(self._rng, self._size).tolist()
            self._i = 0
        v = self._values[self._i]
        self._i += 1
        return v
