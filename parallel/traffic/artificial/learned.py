"""Learned behaviours: conditional generators trained on observed vehicle records.

Instead of a fitted distribution, the artificial world can draw

* ``arrivals``: inter-arrival gaps per origin (platoons from upstream signals make them
  far from exponential), and
* ``speed``: desired speeds per origin, read off the vehicles that never stopped,

from a small conditional GAN (``mlp`` nets, context = the origin one-hot) trained with
the GAN trainer on the actual world's vehicle records. The generator learns the *shape*
of each origin's distribution on a log scale relative to its mean; the scale still comes
from the calibrated parameters (demand rate, mean speed), so calibration keeps working.

After training, the generator's weights are exported to numpy: the SimPy world samples a
batch of thousands of values with three matrix products, in any worker process, without
importing torch and never with a call per vehicle.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from parallel.core import seeds
from parallel.gan.numpy_mlp import NumpyMLP
from parallel.traffic.artificial.behaviours import Sampler

KINDS = ("arrivals", "speed")
_NORMALISE_N = 20_000  # samples used to fix each origin's mean on the learned scale


@dataclass
class LearnedBehaviour:
    """One conditional generator, as numpy weights: p(value | origin)."""

    kind: str
    origins: list[str]
    weights: list[tuple[np.ndarray, np.ndarray]]  # (W (in, out), b (out,)) per layer
    z_dim: int
    x_mean: float
    x_std: float
    rows: int
    mean_exp: dict[str, float] = field(default_factory=dict)  # E[exp(x)] per origin

    def raw(self, origin: str, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` draws of x = log(value / origin mean), shape (n,)."""
        ctx = np.zeros((n, len(self.origins)))
        ctx[:, self.origins.index(origin)] = 1.0
        h = np.concatenate([rng.standard_normal((n, self.z_dim)), ctx], axis=1)
        for i, (w, b) in enumerate(self.weights):
            h = h @ w + b
            if i < len(self.weights) - 1:
                np.maximum(h, 0.0, out=h)
        return h[:, 0] * self.x_std + self.x_mean

    def sampler(self, origin: str, mean: float) -> Sampler:
        """Values for ``origin`` with the learned shape and the given mean."""
        if origin not in self.origins:
            raise KeyError(f"no learned {self.kind} for origin {origin!r}")
        scale = mean / self.mean_exp[origin]

        def sample(rng: np.random.Generator, n: int) -> np.ndarray:
            return scale * np.exp(self.raw(origin, rng, n))

        return sample


def extract(
    kind: str, vehicles: pd.DataFrame, path_length: dict[tuple[str, str], float]
) -> pd.DataFrame:
    """Observed values per origin: columns ``origin`` and ``x`` = log(value / origin mean).

    * arrivals: gaps between consecutive entry times at each origin, s;
    * speed: route length / travel time of vehicles that never stopped, km/h.
    """
    rows = []
    if kind == "arrivals":
        for o, g in vehicles.groupby("origin", observed=True):
            t = np.sort(g["entry_time_s"].to_numpy(float))
            gaps = np.diff(t)
            gaps = gaps[gaps > 0]
            if len(gaps) >= 2:
                rows.append(pd.DataFrame({"origin": str(o), "value": gaps}))
    elif kind == "speed":
        free = vehicles[vehicles["stops"] == 0]
        length = np.array(
            [
                path_length.get((str(o), str(d)), np.nan)
                for o, d in zip(free["origin"], free["destination"])
            ]
        )
        v = 3.6 * length / free["travel_time_s"].to_numpy(float)
        ok = np.isfinite(v) & (v > 1)
        rows.append(
            pd.DataFrame({"origin": free["origin"].astype(str).to_numpy()[ok], "value": v[ok]})
        )
    else:
        raise ValueError(f"unknown learned behaviour {kind!r}; choose from {KINDS}")
    df = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["origin", "value"])
    df["x"] = np.log(df["value"] / df.groupby("origin")["value"].transform("mean"))
    return df


def train(
    kind: str, data: pd.DataFrame, origins: list[str], seed: int, steps: int
) -> LearnedBehaviour:
    """Train the conditional generator on ``extract``'s output.

    Raises:
        DataError: fewer than 50 observed values to learn from.
    """
    import torch

    from parallel.core.errors import DataError
    from parallel.gan.train import TrainConfig, Trainer

    if len(data) < 50:
        raise DataError(
            f"learned {kind}: only {len(data)} observed values to learn from (at least 50); "
            "lengthen demand.duration_s or use the parametric model"
        )
    x = data["x"].to_numpy(float)
    mu, sd = float(x.mean()), float(max(x.std(), 1e-6))
    ctx = np.zeros((len(data), len(origins)), np.float32)
    index = {o: i for i, o in enumerate(origins)}
    ctx[np.arange(len(data)), data["origin"].map(index).to_numpy()] = 1.0
    cfg = TrainConfig(
        net="mlp",
        loss="non-saturating",
        steps=steps,
        batch_size=min(256, len(data) // 2 * 2),
        pac=2,
        lr_g=1e-3,
        lr_d=1e-3,
        z_dim=4,
        g_hidden=32,
        g_layers=2,
        d_hidden=64,
        d_layers=2,
        pieces=2,
        ema=0.99,
        seed=seed,
        checkpoint_every=steps,
        log_every=steps,
    )
    with tempfile.TemporaryDirectory() as tmp:
        tr = Trainer(
            cfg,
            torch.tensor((x[:, None] - mu) / sd, dtype=torch.float32),
            Path(tmp),
            "cpu",
            torch.from_numpy(ctx),
        )
        tr.fit()
        g = tr.G_ema if tr.G_ema is not None else tr.G
        weights = NumpyMLP.from_torch(g, np.float64).weights
    lb = LearnedBehaviour(kind, list(origins), weights, cfg.z_dim, mu, sd, len(data))
    rng = seeds.rng(seed, seeds.Stage.LEARNED_NORMALISE)
    lb.mean_exp = {o: float(np.exp(lb.raw(o, rng, _NORMALISE_N)).mean()) for o in origins}
    return lb


def compare(
    kind: str,
    learned: LearnedBehaviour,
    parametric: dict[str, Sampler],
    held: pd.DataFrame,
    seed: int,
) -> dict[str, Any]:
    """Learned against parametric behaviour on held-out observed values, per origin.

    Both models get the held-out origin's own mean, so the comparison is about shape:
    KS complement (1 best) and Wasserstein-1 of log(value / mean) (0 best).
    """
    from parallel.metrics.distances import ks_complement, wasserstein1

    rng = seeds.rng(seed, seeds.Stage.LEARNED_COMPARE)
    out: dict[str, Any] = {}
    for o, g in held.groupby("origin"):
        o = str(o)
        if o not in learned.origins or len(g) < 20:
            continue
        obs = g["x"].to_numpy(float)
        n = max(len(obs), 2000)
        lx = np.log(learned.sampler(o, 1.0)(rng, n))
        px = np.log(parametric[o](rng, n))
        px -= np.log(np.exp(px).mean())
        out[o] = {
            "n": len(obs),
            "learned_ks": ks_complement(obs, lx),
            "parametric_ks": ks_complement(obs, px),
            "learned_w1": wasserstein1(obs, lx),
            "parametric_w1": wasserstein1(obs, px),
        }
    if out:
        out["mean"] = {
            k: float(np.mean([v[k] for v in out.values()]))
            for k in ("learned_ks", "parametric_ks", "learned_w1", "parametric_w1")
        }
    return out


def path_lengths(topo: Any) -> dict[tuple[str, str], float]:
    """Route length (m) from each origin to each destination along the network's links."""
    import networkx as nx

    out: dict[tuple[str, str], float] = {}
    for o in topo.origins:
        for d, v in nx.single_source_dijkstra_path_length(topo.graph, o, weight="length_m").items():
            out[(o, str(d))] = float(v)
    return out
