"""A trained MLP generator as plain numpy weights, for sampling without torch.

Sampling a table generator or a learned behaviour is a few matrix products. Doing them
in numpy lets ``parallel generate table`` and the SimPy world run without importing
torch (about 2 s of a fresh process's start-up) and without one torch call per vehicle.
Weights are written as an ``.npz`` next to the checkpoint they came from, with that
checkpoint's SHA-256 so a stale export is never used.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from parallel.core.runfolder import atomic_write


def standard_normal(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """(n, d) float32 standard normal draws by the Box-Muller transform.

    Two uniforms make two normals with one log, one square root, a sine and a cosine, all
    vectorised float32 passes: 2-3x faster than ``rng.standard_normal(dtype=float32)``,
    whose ziggurat draws one value at a time (it was the costliest part of sampling a
    table generator). Float32 uniforms put the largest draw at 5.8 sigma; the mass
    beyond that, 7e-9, does not matter for a generator's latent.
    """
    m = n * d
    h = (m + 1) // 2
    u = rng.random((2, h), dtype=np.float32)
    r = np.subtract(np.float32(1.0), u[0], out=u[0])  # (0, 1]: log never sees 0
    np.log(r, out=r)
    r *= np.float32(-2.0)
    np.sqrt(r, out=r)
    theta = u[1]
    theta *= np.float32(2 * np.pi)
    out = np.empty(2 * h, np.float32)
    np.cos(theta, out=out[:h])
    np.sin(theta, out=out[h:])
    out[:h] *= r
    out[h:] *= r
    return out[:m].reshape(n, d)


@dataclass
class NumpyMLP:
    """Linear layers with ReLU between them (none after the last): (N, in) -> (N, out)."""

    weights: list[tuple[np.ndarray, np.ndarray]]  # (W (in, out), b (out,)) per layer
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_torch(cls, module: Any, dtype: type = np.float32, **meta: Any) -> NumpyMLP:
        """The Linear layers of ``module`` in order (it must be a Linear/ReLU stack).

        Raises:
            ValueError: the module holds layers other than Linear and ReLU.
        """
        import torch

        layers = [m for m in module.modules() if not list(m.children())]
        bad = [
            type(m).__name__ for m in layers if not isinstance(m, torch.nn.Linear | torch.nn.ReLU)
        ]
        if bad:
            raise ValueError(f"only Linear/ReLU stacks export to numpy, found {sorted(set(bad))}")
        weights: list[tuple[np.ndarray, np.ndarray]] = [
            (
                m.weight.detach().cpu().numpy().T.astype(dtype).copy(),
                m.bias.detach().cpu().numpy().astype(dtype).copy(),
            )
            for m in layers
            if isinstance(m, torch.nn.Linear)
        ]
        return cls(weights, dict(meta))

    def __call__(self, x: np.ndarray, chunk: int = 8192) -> np.ndarray:
        """(N, in) -> (N, out), in row chunks that stay in cache."""
        out = np.empty((len(x), self.weights[-1][0].shape[1]), self.weights[-1][0].dtype)
        last = len(self.weights) - 1
        for s in range(0, len(x), chunk):
            h = x[s : s + chunk]
            for i, (w, b) in enumerate(self.weights):
                h = h @ w
                h += b
                if i < last:
                    np.maximum(h, 0.0, out=h)
            out[s : s + chunk] = h
        return out

    def save(self, path: Path) -> None:
        """Write ``path`` atomically (temporary file, then rename)."""
        arrays = {f"w{i}": w for i, (w, _) in enumerate(self.weights)}
        arrays |= {f"b{i}": b for i, (_, b) in enumerate(self.weights)}
        arrays["meta"] = np.array(json.dumps(self.meta))
        buf = io.BytesIO()
        np.savez(buf, **arrays)  # type: ignore[arg-type]
        atomic_write(path, buf.getvalue())

    @classmethod
    def load(cls, path: Path) -> NumpyMLP:
        with np.load(path, allow_pickle=False) as z:
            n = sum(1 for k in z.files if k.startswith("w"))
            weights = [(z[f"w{i}"], z[f"b{i}"]) for i in range(n)]
            meta = json.loads(str(z["meta"]))
        return cls(weights, meta)
