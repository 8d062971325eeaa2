"""A trained table generator: fit on a DataFrame, save to a folder, load, sample.

A generator folder holds ``checkpoint.pt`` (weights, loaded with ``weights_only=True``),
``config.json`` (the :class:`TrainConfig`), ``encoder.json`` (the column encoders, plain
JSON), ``metrics.csv``, ``source.json`` (where the data came from, its rows and hash) and
``generator.npz`` (the trained generator as numpy weights, tied to the checkpoint by its
SHA-256). A folder of the naive generator (``parallel train --model naive``) holds
``naive.json`` instead of the weights. Sampling is by batch and seeded per batch, so any
slice of a big dataset can be made again on its own, which is what lets ``parallel
generate`` resume shard by shard.

On CPU, sampling uses the numpy weights and never imports torch: a fresh
``parallel generate table`` process starts about 2 s sooner, and the small generator's
matrix products are as fast in numpy. ``--device cuda`` (or a folder without the numpy
export) samples with torch; the latent noise and the category draws come from the same
numpy generator either way, so both give the same rows up to float rounding.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from parallel.core.errors import DataError, UserInputError
from parallel.core.runfolder import atomic_write, load_checkpoint, read_json
from parallel.data.shards import sha256_file
from parallel.gan.defaults import TABLE_DEFAULTS  # noqa: F401  (re-exported)
from parallel.gan.naive import NAIVE, NaiveTable
from parallel.gan.numpy_mlp import NumpyMLP, standard_normal
from parallel.gan.tabular import TableEncoder

if TYPE_CHECKING:
    import torch

    from parallel.gan.train import TrainConfig, Trainer

# plain names, not imported from the trainer: importing it would import torch
CHECKPOINT = "checkpoint.pt"
NUMPY_G = "generator.npz"
CONFIG = "config.json"
ENCODER = "encoder.json"
SOURCE = "source.json"


def _write_json(path: Path, obj: Any) -> None:
    atomic_write(path, json.dumps(obj, indent=1))


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
    import torch

    from parallel.gan.train import Trainer

    out.mkdir(parents=True, exist_ok=True)
    (out / NUMPY_G).unlink(missing_ok=True)  # stale until this training finishes
    digest = table_hash(df)
    if resume and (out / SOURCE).is_file():
        old = read_json(out / SOURCE)
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
    g = trainer.G_ema if trainer.G_ema is not None else trainer.G
    NumpyMLP.from_torch(
        g.net,
        checkpoint_sha256=sha256_file(out / CHECKPOINT),
        step=trainer.step,
        z_dim=cfg.z_dim,
        z_categories=cfg.z_categories,
    ).save(out / NUMPY_G)
    return trainer, enc, last


def fit_naive(
    df: pd.DataFrame,
    out: Path,
    *,
    target: str | None,
    source: str = "table",
    max_categories: int = 50,
) -> tuple[NaiveTable, TableEncoder]:
    """Fit the class-conditional naive generator (:mod:`parallel.gan.naive`) into ``out``.

    Raises:
        DataError: the table cannot be encoded (see :meth:`TableEncoder.fit`).
        UserInputError: ``target`` is missing or not a class column.
    """
    enc = TableEncoder.fit(df, source=source, max_categories=max_categories)
    model = NaiveTable.fit(df, enc, target)
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / ENCODER, enc.to_json())
    _write_json(
        out / SOURCE,
        {"source": source, "rows": len(df), "columns": list(map(str, df.columns)),
         "hash": table_hash(df)},
    )  # fmt: skip
    _write_json(out / CONFIG, {"model": "naive", "target": target, "steps": 0})
    _write_json(out / NAIVE, model.to_json())  # last: its presence marks a finished fit
    return model, enc


def config_digest(config: dict[str, Any]) -> str:
    """The hash :meth:`TrainConfig.digest` gives, from the config's JSON (no torch)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


class TableSampler:
    """Samples rows from a generator folder written by :func:`fit_table`.

    ``device`` ``auto`` or ``cpu`` samples with the numpy export when it matches the
    checkpoint (``backend == "numpy"``); otherwise, or for ``cuda``/``mps``, with torch.

    Raises:
        DataError: the folder is not a trained table generator.
        UserInputError: the named device is not available.
    """

    def __init__(self, folder: Path, device: str = "cpu") -> None:
        weights = NAIVE if (folder / NAIVE).is_file() else CHECKPOINT
        missing = [f for f in (weights, CONFIG, ENCODER) if not (folder / f).is_file()]
        if missing:
            raise DataError(
                f"{folder}: not a trained table generator (missing {', '.join(missing)}); "
                "train one with `parallel train DATA.csv --out DIR`"
            )
        self.folder = folder
        self.config: dict[str, Any] = read_json(folder / CONFIG)
        self.config_digest = config_digest(self.config)
        self.z_dim = self.config.get("z_dim", 0)
        self.z_categories = self.config.get("z_categories", 0)
        self.encoder = TableEncoder.from_json(read_json(folder / ENCODER))
        self.source = read_json(folder / SOURCE) if (folder / SOURCE).is_file() else {}
        self.checkpoint_sha256 = sha256_file(folder / weights)
        self.mlp: NumpyMLP | None = None
        self.G: torch.nn.Module | None = None
        self.naive: NaiveTable | None = None
        if weights == NAIVE:  # no network: a table of class statistics, sampled in numpy
            self.naive = NaiveTable.from_json(read_json(folder / NAIVE))
            self.step, self.backend, self.on_cpu = 0, "numpy", True
            return
        if device in ("auto", "cpu") and (folder / NUMPY_G).is_file():
            mlp = NumpyMLP.load(folder / NUMPY_G)
            if mlp.meta.get("checkpoint_sha256") == self.checkpoint_sha256:
                self.mlp, self.step = mlp, int(mlp.meta["step"])
        if self.mlp is None:
            self._load_torch(device)
        self.backend = "numpy" if self.mlp is not None else "torch"
        #: batches run in parallel threads only on CPU (one GPU stream otherwise)
        self.on_cpu = self.mlp is not None or self.device.type == "cpu"

    def _load_torch(self, device: str) -> None:

        from parallel.gan.nets import NetSpec, build
        from parallel.gan.train import TrainConfig, pick_device

        self.cfg: TrainConfig = TrainConfig(**self.config)
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
        st = load_checkpoint(self.folder / CHECKPOINT, "cpu")
        g.load_state_dict(st["G_ema"] if st.get("G_ema") is not None else st["G"])
        self.G = g.to(self.device).eval()
        self.step = int(st["step"])

    def latent(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, z_dim + z_categories) float32: Gaussian noise (Box-Muller), then a one-hot
        category."""
        z = standard_normal(rng, n, self.z_dim)
        if not self.z_categories:
            return z
        onehot = np.zeros((n, self.z_categories), np.float32)
        onehot[np.arange(n), rng.integers(self.z_categories, size=n)] = 1.0
        return np.concatenate([z, onehot], axis=1)

    def sample(self, n: int, seed: int | np.random.SeedSequence) -> pa.Table:
        """``n`` rows as an Arrow table; the same seed gives the same rows."""
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        rng = np.random.default_rng(ss)
        if self.naive is not None:
            return self.naive.sample(n, rng, self.encoder)
        z = self.latent(n, rng)
        x = self.mlp(z) if self.mlp is not None else self._torch_forward(z)  # (n, width)
        return self.encoder.decode(x, rng)

    def _torch_forward(self, z: np.ndarray) -> np.ndarray:
        import torch

        from parallel.gan.nets import mlp_inference

        assert self.G is not None
        net = self.G.net
        assert isinstance(net, torch.nn.Sequential)
        with torch.inference_mode():
            return mlp_inference(net, torch.from_numpy(z).to(self.device)).float().cpu().numpy()

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
