"""A trained table generator: fit on a DataFrame, save to a folder, load, sample.

A generator folder holds ``checkpoint.pt`` (weights, loaded with ``weights_only=True``),
``config.json`` (the :class:`TrainConfig`), ``encoder.json`` (the column encoders, plain
JSON), ``metrics.csv`` and ``source.json`` (where the data came from, its rows and hash).
Sampling is by batch and seeded per batch, so any slice of a big dataset can be made
again on its own, which is what lets ``parallel generate`` resume shard by shard.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import torch

from parallel.errors import DataError, UserInputError
from parallel.gan.nets import NetSpec, build, mlp_inference
from parallel.gan.tabular import TableEncoder
from parallel.gan.train import CHECKPOINT, TrainConfig, Trainer, latent, pick_device

CONFIG = "config.json"
ENCODER = "encoder.json"
SOURCE = "source.json"

#: Defaults for ``parallel train`` on a bare table: small, fast nets that reach CTGAN's
#: quality on CPU in seconds (see benchmarks/README.md, "Against CTGAN").
TABLE_DEFAULTS: dict[str, Any] = {
    "net": "table",
    "loss": "non-saturating",
    "steps": 2000,
    "batch_size": 200,
    "pac": 2,
    "lr_g": 2e-3,
    "lr_d": 2e-3,
    "beta1": 0.5,
    "z_dim": 32,
    "g_hidden": 64,
    "g_layers": 2,
    "d_hidden": 128,
    "d_layers": 2,
    "pieces": 1,
    "ema": 0.99,
    "checkpoint_every": 200,
    "log_every": 25,
}


def _write_json(path: Path, obj: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(obj, fh, indent=1)
    os.replace(tmp, path)


def table_hash(df: pd.DataFrame) -> str:
    """A content hash of a table (values and column names), for provenance."""
    h = hashlib.sha256(",".join(map(str, df.columns)).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


def fit_table(
    df: pd.DataFrame,
    out: Path,
    cfg: TrainConfig,
    *,
    device: str = "auto",
    resume: bool = False,
    source: str = "table",
    progress: Callable[[int, int], None] | None = None,
    max_categories: int = 50,
) -> tuple[Trainer, TableEncoder, dict[str, float]]:
    """Fit the encoders and train the generator; everything lands in ``out``.

    Raises:
        DataError: the table cannot be encoded (see :meth:`TableEncoder.fit`).
        ConfigMismatchError: ``resume`` with a different configuration or data.
        DivergenceError: training diverged (the last good checkpoint is kept).
    """
    out.mkdir(parents=True, exist_ok=True)
    digest = table_hash(df)
    if resume and (out / SOURCE).is_file():
        old = json.loads((out / SOURCE).read_text())
        if old.get("hash") != digest:
            raise UserInputError(
                f"{out}: the checkpoint was trained on other data ({old.get('source')}, "
                f"{old.get('rows')} rows); refusing to resume. Use a new --out folder"
            )
    enc = TableEncoder.fit(df, source=source, max_categories=max_categories)
    rng = np.random.default_rng(cfg.seed)
    data = torch.from_numpy(enc.encode(df, rng))
    if len(df) < cfg.batch_size:
        cfg = cfg.model_copy(update={"batch_size": max(cfg.pac, len(df) // cfg.pac * cfg.pac)})
    trainer = Trainer(cfg, data, out, device, softmax_spans=enc.softmax_spans())
    if resume:
        trainer.resume()
    _write_json(out / CONFIG, cfg.model_dump())
    _write_json(out / ENCODER, enc.to_json())
    _write_json(
        out / SOURCE,
        {"source": source, "rows": len(df), "columns": list(map(str, df.columns)), "hash": digest},
    )
    last = trainer.fit(progress)
    return trainer, enc, last


class TableSampler:
    """Samples rows from a generator folder written by :func:`fit_table`."""

    def __init__(self, folder: Path, device: str = "cpu") -> None:
        missing = [f for f in (CHECKPOINT, CONFIG, ENCODER) if not (folder / f).is_file()]
        if missing:
            raise DataError(
                f"{folder}: not a trained table generator (missing {', '.join(missing)}); "
                "train one with `parallel train DATA.csv --out DIR`"
            )
        self.folder = folder
        self.cfg = TrainConfig(**json.loads((folder / CONFIG).read_text()))
        self.encoder = TableEncoder.from_json(json.loads((folder / ENCODER).read_text()))
        self.source = (
            json.loads((folder / SOURCE).read_text()) if (folder / SOURCE).is_file() else {}
        )
        self.device = pick_device(device)
        spec = NetSpec(
            (self.encoder.width,),
            self.cfg.z_dim + self.cfg.z_categories,
            0,
            self.cfg.g_hidden,
            self.cfg.g_layers,
            self.cfg.d_hidden,
            self.cfg.d_layers,
            self.cfg.pieces,
            self.cfg.pac,
            self.cfg.spectral_norm,
            self.encoder.softmax_spans(),
        )
        g, _ = build(self.cfg.net, spec)
        st = torch.load(folder / CHECKPOINT, map_location="cpu", weights_only=True)
        g.load_state_dict(st["G_ema"] if st.get("G_ema") is not None else st["G"])
        self.G = g.to(self.device).eval()
        self.step = int(st["step"])

    @torch.inference_mode()
    def sample(self, n: int, seed: int | np.random.SeedSequence) -> pa.Table:
        """``n`` rows as an Arrow table; the same seed gives the same rows."""
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        torch_seed, np_seed = ss.generate_state(2, np.uint64)
        gen = torch.Generator().manual_seed(int(torch_seed) & (2**63 - 1))
        z = latent(n, self.cfg, gen).to(self.device)
        net = self.G.net
        assert isinstance(net, torch.nn.Sequential)
        x = mlp_inference(net, z).float().cpu().numpy()  # (n, width)
        return self.encoder.decode(x, np.random.default_rng(int(np_seed)))

    def sample_frame(self, n: int, seed: int) -> pd.DataFrame:
        """``n`` rows as a DataFrame (categorical columns as plain values)."""
        t = self.sample(n, seed)
        return pd.DataFrame(
            {
                name: (
                    col.cast(col.type.value_type).to_pandas()
                    if pa.types.is_dictionary(col.type)
                    else col.to_pandas()
                )
                for name, col in zip(t.column_names, t.columns)
            }
        )
