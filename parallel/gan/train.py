"""The GAN trainer.

* device picked automatically (CUDA, then MPS, then CPU) unless given; bf16 autocast on CUDA;
* ``n_critic`` discriminator steps per generator step; WGAN clipping, WGAN-GP and R1;
* an EMA copy of the generator (its decay ramped up over the first steps);
* a metrics CSV and a progress callback;
* checkpoints every ``checkpoint_every`` steps, written atomically (temporary file, then
  rename) with a hash of the configuration, read back with ``weights_only=True``;
* ``resume`` refuses a changed configuration and lists what changed; all randomness flows
  through one saved ``torch.Generator``, so a resumed run ends with the same weights as an
  uninterrupted one on CPU;
* a divergence guard stops on NaN or inf with a clear error and keeps the last good
  checkpoint.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import functools
import hashlib
import io
import json
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch import Tensor

from parallel.core.errors import RunError, UserInputError
from parallel.core.runfolder import atomic_write, load_checkpoint
from parallel.gan.augment import diff_augment
from parallel.gan.losses import LOSSES, gradient_penalty, r1_penalty
from parallel.gan.nets import NETS, NetSpec, build
from parallel.gan.truncation import truncated_latent

log = logging.getLogger(__name__)
CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.csv"
METRIC_FIELDS = ("step", "d_loss", "g_loss", "d_real", "d_fake", "penalty")


class DivergenceError(RunError):
    """Training produced NaN or inf; the last good checkpoint is kept."""


class ConfigMismatchError(UserInputError):
    """``--resume`` was asked with a configuration that differs from the checkpoint's."""


class TrainConfig(BaseModel):
    """Everything that determines a training run (and so its checkpoint hash)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)

    loss: str = "non-saturating"
    """GAN loss: minimax, non-saturating, least-squares, wasserstein, wgan-gp, hinge."""
    net: str = "mlp"
    """Network pair: mlp, table, dcgan, gru."""
    steps: int = Field(2000, ge=1)
    """Generator steps."""
    batch_size: int = Field(100, ge=2, le=1_000_000)
    """Real samples per discriminator step (a multiple of ``pac``)."""
    lr_g: float = Field(1e-4, gt=0)
    """Generator learning rate (Adam)."""
    lr_d: float = Field(1e-4, gt=0)
    """Discriminator learning rate (Adam)."""
    lr_final: float = Field(1.0, gt=0, le=1)
    """Learning rates at the last step as a fraction of the first (linear decay; 1 = constant)."""
    beta1: float = Field(0.5, ge=0, lt=1)
    """Adam beta1."""
    beta2: float = Field(0.999, ge=0, lt=1)
    """Adam beta2."""
    n_critic: int = Field(1, ge=1)
    """Discriminator steps per generator step."""
    z_dim: int = Field(2, ge=1, le=4096)
    """Latent dimension (Gaussian part)."""
    z_categories: int = Field(0, ge=0, le=1024)
    """A discrete part of the latent: a one-hot of this many equally likely categories is
    appended to the Gaussian noise (0 = none). A generator is continuous in its latent, so
    disjoint modes otherwise need "bridges" of samples between them; a discrete latent lets
    it place separate pieces without them."""
    g_hidden: int = Field(400, ge=1, le=8192)
    """Generator width."""
    g_layers: int = Field(4, ge=1, le=64)
    """Generator hidden layers."""
    d_hidden: int = Field(200, ge=1, le=8192)
    """Discriminator width."""
    d_layers: int = Field(3, ge=1, le=64)
    """Discriminator hidden layers."""
    pieces: int = Field(5, ge=1)
    """Maxout pieces in the MLP discriminator (1 = LeakyReLU)."""
    pac: int = Field(1, ge=1)
    """PacGAN packing: samples the discriminator judges together."""
    spectral_norm: bool = False
    """Spectral normalisation on the discriminator's layers."""
    width: int = Field(64, ge=4, le=512)
    """Base channel width of the convolutional nets (dcgan)."""
    augment: Literal["none", "diffaugment"] = "none"
    """Augment real and generated samples alike before D sees them (images: DiffAugment's
    colour, translation and cutout), for training on few samples."""
    gp_weight: float = Field(10.0, ge=0)
    """Weight of the WGAN-GP gradient penalty (wgan-gp loss only)."""
    r1_weight: float = Field(0.0, ge=0)
    """Weight of the R1 penalty on real samples (0 = off)."""
    ema: float = Field(0.0, ge=0, lt=1)
    """Decay of the generator's exponential moving average (0 = off)."""
    seed: int = Field(0, ge=0)
    """Seed of the run's only random generator."""
    checkpoint_every: int = Field(500, ge=1)
    """Steps between checkpoints."""
    log_every: int = Field(50, ge=1)
    """Steps between metrics rows."""

    @field_validator("loss")
    @classmethod
    def _loss(cls, v: str) -> str:
        if v not in LOSSES:  # a ValueError, so scenario files get file, line and field
            raise ValueError(
                f"unknown GAN loss {v!r}; valid names are: {', '.join(LOSSES.names())}"
            )
        return v

    @field_validator("net")
    @classmethod
    def _net(cls, v: str) -> str:
        if v not in NETS:
            raise ValueError(f"unknown network {v!r}; valid names are: {', '.join(NETS.names())}")
        return v

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.model_dump(), sort_keys=True).encode()).hexdigest()[
            :16
        ]


def latent(n: int, cfg: TrainConfig, generator: torch.Generator) -> Tensor:
    """``n`` latent vectors (n, z_dim + z_categories): Gaussian noise, then the one-hot of a
    uniformly drawn category when ``cfg.z_categories`` > 0."""
    z = torch.randn(n, cfg.z_dim, generator=generator)
    if cfg.z_categories:
        k = torch.randint(cfg.z_categories, (n,), generator=generator)
        z = torch.cat([z, torch.nn.functional.one_hot(k, cfg.z_categories).float()], dim=1)
    return z


def pick_device(requested: str = "auto") -> torch.device:
    """CUDA, then MPS, then CPU for ``auto``; otherwise the named device.

    Raises:
        UserInputError: the named device is not available here.
    """
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise UserInputError("--device cuda: no CUDA device here; use --device auto or cpu")
    if requested == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise UserInputError("--device mps: no MPS device here; use --device auto or cpu")
    if requested not in ("cpu", "cuda", "mps"):
        raise UserInputError(f"unknown device {requested!r}; choose auto, cpu, cuda or mps")
    return torch.device(requested)


def _atomic_save(obj: Any, path: Path) -> None:
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write(path, buf.getvalue())


def _diff(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return [
        f"{k}: {a.get(k)!r} -> {b.get(k)!r}"
        for k in sorted(set(a) | set(b))
        if a.get(k) != b.get(k)
    ]


class Trainer:
    """Trains a (G, D) pair on a tensor of samples (N, *sample_shape)."""

    def __init__(
        self,
        cfg: TrainConfig,
        data: Tensor,
        out_dir: Path,
        device: str = "auto",
        ctx: Tensor | None = None,
        softmax_spans: tuple[tuple[int, int], ...] = (),
    ) -> None:
        if data.shape[0] < cfg.batch_size:
            raise UserInputError(
                f"{data.shape[0]} samples is fewer than one batch ({cfg.batch_size})"
            )
        if cfg.batch_size % cfg.pac:
            raise UserInputError(f"batch_size {cfg.batch_size} must be a multiple of pac {cfg.pac}")
        self.cfg = cfg
        self.device = pick_device(device)
        self.out = out_dir
        self.out.mkdir(parents=True, exist_ok=True)
        self.data = data.float()
        self.ctx = ctx.float() if ctx is not None else None
        torch.manual_seed(cfg.seed)  # initial weights only; training draws from self.gen
        spec = NetSpec(
            tuple(data.shape[1:]),
            cfg.z_dim + cfg.z_categories,
            0 if ctx is None else ctx.shape[1],
            cfg.g_hidden,
            cfg.g_layers,
            cfg.d_hidden,
            cfg.d_layers,
            cfg.pieces,
            cfg.pac,
            cfg.spectral_norm,
            softmax_spans,
            width=cfg.width,
        )
        g, d = build(cfg.net, spec)
        self.G, self.D = g.to(self.device), d.to(self.device)
        self.G_ema = copy.deepcopy(self.G).eval() if cfg.ema > 0 else None
        # fused Adam: one kernel per step instead of a dozen per tensor (2.5x faster on
        # CPU for these small nets, where the optimiser is a tenth of a step)
        fused = {"fused": True} if self.device.type in ("cpu", "cuda") else {"foreach": True}
        self.opt_g = torch.optim.Adam(
            self.G.parameters(), cfg.lr_g, betas=(cfg.beta1, cfg.beta2), **fused
        )
        self.opt_d = torch.optim.Adam(
            self.D.parameters(), cfg.lr_d, betas=(cfg.beta1, cfg.beta2), **fused
        )
        self._ema_pairs: tuple[list[Tensor], list[Tensor]] | None = (
            (list(self.G_ema.parameters()), list(self.G.parameters()))
            if self.G_ema is not None
            else None
        )
        self.loss = LOSSES.get(cfg.loss)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.step = 0
        self.resumed_from: int | None = None

    # -- checkpoints -------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": self.G_ema.state_dict() if self.G_ema is not None else None,
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "step": self.step,
            "rng": self.gen.get_state(),
            "torch_rng": torch.get_rng_state(),  # Gumbel-softmax noise (table nets)
            "config": self.cfg.model_dump(),
            "config_hash": self.cfg.digest(),
        }

    def save(self) -> Path:
        path = self.out / CHECKPOINT
        _atomic_save(self.state(), path)
        return path

    def resume(self) -> bool:
        """Load the checkpoint in ``out_dir`` if there is one; returns whether it did.

        Raises:
            ConfigMismatchError: the checkpoint was written with another configuration.
        """
        path = self.out / CHECKPOINT
        if not path.is_file():
            return False
        st = load_checkpoint(path, self.device)
        if st["config_hash"] != self.cfg.digest():
            changes = _diff(st["config"], self.cfg.model_dump())
            raise ConfigMismatchError(
                f"{path}: the checkpoint was trained with another configuration; refusing to resume. "
                f"Changed: {'; '.join(changes)}. Use the same options, or a new --out folder"
            )
        self.G.load_state_dict(st["G"])
        self.D.load_state_dict(st["D"])
        if self.G_ema is not None and st["G_ema"] is not None:
            self.G_ema.load_state_dict(st["G_ema"])
        self.opt_g.load_state_dict(st["opt_g"])
        self.opt_d.load_state_dict(st["opt_d"])
        self.gen.set_state(st["rng"])
        if st.get("torch_rng") is not None:
            torch.set_rng_state(st["torch_rng"])
        self.step = int(st["step"])
        self.resumed_from = self.step
        self._truncate_metrics()
        return True

    def _truncate_metrics(self) -> None:
        """Keep the metrics rows up to the checkpoint's step (drop a half-written line)."""
        path = self.out / METRICS
        if not path.is_file():
            return
        keep = []
        with path.open() as fh:
            for row in csv.DictReader(fh):
                try:
                    if int(row["step"]) <= self.step and all(
                        row[k] not in (None, "") for k in METRIC_FIELDS
                    ):
                        keep.append(row)
                except (TypeError, ValueError):
                    continue
        buf = io.StringIO()
        w = csv.DictWriter(buf, METRIC_FIELDS)
        w.writeheader()
        w.writerows(keep)
        atomic_write(path, buf.getvalue())

    # -- training ----------------------------------------------------------------------
    def _batch(self) -> tuple[Tensor, Tensor | None]:
        idx = torch.randint(self.data.shape[0], (self.cfg.batch_size,), generator=self.gen)
        x = self.data[idx].to(self.device)
        c = self.ctx[idx].to(self.device) if self.ctx is not None else None
        return x, c

    def _z(self, n: int) -> Tensor:
        return latent(n, self.cfg, self.gen).to(self.device)

    def _d(self, x: Tensor, ctx: Tensor | None = None) -> Tensor:
        return self.D(x, ctx)

    def _autocast(self) -> Any:
        if self.device.type != "cuda":  # a disabled autocast still costs a context per call
            return contextlib.nullcontext()
        return torch.autocast("cuda", dtype=torch.bfloat16)

    def _set_lr(self) -> None:
        # a function of the step alone, so a resumed run follows the same schedule
        frac = 1.0 - (1.0 - self.cfg.lr_final) * self.step / self.cfg.steps
        for opt, base in ((self.opt_g, self.cfg.lr_g), (self.opt_d, self.cfg.lr_d)):
            for group in opt.param_groups:
                group["lr"] = base * frac

    def _ema_decay(self) -> float:
        """The EMA's decay at this step: ``cfg.ema``, ramped up from 0.1 as (1 + t) / (10 + t)
        so that the average forgets the random initial weights in a short run (without the
        ramp, 0.999 still weighs the initial generator 5% after 3,000 steps). A function of
        the step alone, so a resumed run averages the same way."""
        return min(self.cfg.ema, (1 + self.step) / (10 + self.step))

    def train_step(self) -> dict[str, float]:
        cfg, loss = self.cfg, self.loss
        if cfg.lr_final < 1.0:
            self._set_lr()
        penalty = torch.zeros((), device=self.device)
        for _ in range(cfg.n_critic):
            real, c = self._batch()
            with torch.no_grad(), self._autocast():
                fake = self.G(self._z(real.shape[0]), c)
            fake = fake.float()
            if cfg.augment == "diffaugment":
                real, fake = diff_augment(real, self.gen), diff_augment(fake, self.gen)
            with self._autocast():
                # one pass over real and fake together: half the calls for small nets (the
                # batch is a multiple of pac, so no pack mixes real and fake)
                both = self.D(
                    torch.cat([real, fake]), None if c is None else torch.cat([c, c])
                ).float()
                d_real, d_fake = both.chunk(2)
                d_loss = loss.d_loss(d_real, d_fake)
            if loss.gradient_penalty:
                penalty = cfg.gp_weight * gradient_penalty(
                    functools.partial(self._d, ctx=c), real, fake, self.gen
                )
            if cfg.r1_weight > 0:
                penalty = penalty + cfg.r1_weight / 2 * r1_penalty(
                    functools.partial(self._d, ctx=c), real
                )
            self.opt_d.zero_grad(set_to_none=True)
            (d_loss + penalty).backward()
            self.opt_d.step()
            if loss.clip is not None:
                with torch.no_grad():
                    for p in self.D.parameters():
                        p.clamp_(-loss.clip, loss.clip)
        _, c = self._batch()
        self.D.requires_grad_(False)  # the generator step needs no gradient for D's weights
        try:
            with self._autocast():
                fake = self.G(self._z(cfg.batch_size), c)
                if cfg.augment == "diffaugment":
                    fake = diff_augment(fake, self.gen)
                g_loss = loss.g_loss(self.D(fake, c).float())
            self.opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
        finally:
            self.D.requires_grad_(True)
        self.opt_g.step()
        if self.G_ema is not None and self._ema_pairs is not None:
            with torch.no_grad():
                torch._foreach_lerp_(self._ema_pairs[0], self._ema_pairs[1], 1 - self._ema_decay())
                for be, b in zip(self.G_ema.buffers(), self.G.buffers()):
                    be.copy_(b)
        return {
            "d_loss": float(d_loss.detach()),
            "g_loss": float(g_loss.detach()),
            "d_real": float(d_real.detach().mean()),
            "d_fake": float(d_fake.detach().mean()),
            "penalty": float(penalty.detach()),
        }

    def fit(
        self, progress: Callable[[int, int], None] | None = None, until: int | None = None
    ) -> dict[str, float]:
        """Train up to step ``until`` (default ``cfg.steps``) and checkpoint there; returns
        the last metrics.

        Raises:
            DivergenceError: a loss became NaN or inf (the last checkpoint is kept).
        """
        cfg = self.cfg
        path = self.out / METRICS
        new = not path.is_file()
        last: dict[str, float] = {}
        with path.open("a", newline="") as fh:
            w = csv.DictWriter(fh, METRIC_FIELDS)
            if new:
                w.writeheader()
            stop = cfg.steps if until is None else min(until, cfg.steps)
            while self.step < stop:
                m = self.train_step()
                if not all(math.isfinite(v) for v in m.values()):
                    bad = ", ".join(f"{k}={v}" for k, v in m.items())
                    raise DivergenceError(
                        f"training diverged at step {self.step + 1} ({bad}); the last good checkpoint "
                        f"(step {self._checkpoint_step()}) is kept in {self.out / CHECKPOINT}. "
                        "Lower the learning rates, or use wgan-gp or spectral_norm"
                    )
                self.step += 1
                last = m
                if self.step % cfg.log_every == 0 or self.step == stop:
                    w.writerow({"step": self.step, **m})
                    fh.flush()
                if self.step % cfg.checkpoint_every == 0 or self.step == stop:
                    self.save()
                if progress:
                    progress(self.step, cfg.steps)
        return last

    def _checkpoint_step(self) -> int | None:
        path = self.out / CHECKPOINT
        if not path.is_file():
            return None
        return int(load_checkpoint(path, "cpu")["step"])

    @torch.no_grad()
    def sample(
        self,
        n: int,
        generator: torch.Generator,
        ema: bool = True,
        ctx: Tensor | None = None,
        keep: float = 1.0,
    ) -> Tensor:
        """``n`` samples from the (EMA) generator, on CPU: (n, *sample_shape).

        ``keep`` < 1 samples with Jacobian-based truncation (:mod:`parallel.gan.truncation`):
        of ``n / keep`` latent draws, the ``n`` where the generator stretches least.

        Raises:
            UserInputError: ``keep`` is outside (0, 1], or ``keep`` < 1 with a context.
        """
        g = self.G_ema if (ema and self.G_ema is not None) else self.G
        g.eval()
        try:
            if keep < 1.0 and ctx is not None:
                raise UserInputError(
                    "Jacobian truncation (keep < 1) samples unconditional generators only"
                )
            z = truncated_latent(
                g, n, keep, lambda m: latent(m, self.cfg, generator).to(self.device)
            )
            out = g(z, ctx.to(self.device) if ctx is not None else None).float().cpu()
        finally:
            self.G.train()
        return out


__all__ = [
    "ConfigMismatchError",
    "DivergenceError",
    "TrainConfig",
    "Trainer",
    "latent",
    "pick_device",
]
