"""Generator and discriminator networks, by name.

* ``mlp``: numeric tables and toy data. G is an MLP; D an MLP of maxout or ReLU layers.
* ``table``: mixed-type tables: the MLP pair, with Gumbel-softmax on G's one-hot blocks.
* ``dcgan``: small images (32 or 64 px), transposed convolutions up, strided ones down.
* ``gru``: sequences (trajectories), a GRU over time in both G and D.

Every discriminator supports PacGAN packing (``pac`` samples are judged together), an
optional spectral norm on its layers, and a context vector (conditioning); every
generator takes the same context.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as _sn

from parallel.core.registry import Registry


@dataclass(frozen=True)
class NetSpec:
    """What a pair of nets is built from."""

    sample_shape: tuple[int, ...]  # one sample: (D,) tables, (C, H, W) images, (T, F) sequences
    z_dim: int = 2
    ctx_dim: int = 0
    g_hidden: int = 400
    g_layers: int = 4
    d_hidden: int = 200
    d_layers: int = 3
    pieces: int = 5  # maxout pieces in the MLP discriminator (1 = ReLU)
    pac: int = 1
    spectral_norm: bool = False
    softmax_spans: tuple[tuple[int, int], ...] = ()  # (start, width) one-hot blocks (tables)
    tau: float = 0.2  # Gumbel-softmax temperature for those blocks
    width: int = 64  # base channel width of the conv nets


def _maybe_sn(layer: nn.Module, on: bool) -> nn.Module:
    return _sn(layer) if on else layer


def _pack(x: Tensor, pac: int) -> Tensor:
    """(B, ...) -> (B/pac, pac*first_dim, ...): PacGAN's packing along the feature axis."""
    if pac == 1:
        return x
    b = x.shape[0]
    if b % pac:
        raise ValueError(f"batch {b} is not a multiple of pac {pac}")
    return x.reshape(b // pac, pac * x.shape[1], *x.shape[2:])


class Maxout(nn.Module):
    def __init__(self, d_in: int, d_out: int, pieces: int, sn: bool) -> None:
        super().__init__()
        self.pieces, self.d_out = pieces, d_out
        self.lin = _maybe_sn(nn.Linear(d_in, d_out * pieces), sn)

    def forward(self, x: Tensor) -> Tensor:
        return self.lin(x).view(x.shape[0], self.d_out, self.pieces).max(dim=-1).values


# ------------------------------------------------------------------------------- MLP
class MLPGenerator(nn.Module):
    """z (B, Z) [+ ctx (B, K)] -> samples (B, D)."""

    def __init__(self, s: NetSpec) -> None:
        super().__init__()
        dims = [s.z_dim + s.ctx_dim] + [s.g_hidden] * s.g_layers
        layers: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(dims[-1], s.sample_shape[0]))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, ctx: Tensor | None = None) -> Tensor:
        return self.net(z if ctx is None else torch.cat([z, ctx], dim=1))


def mlp_inference(net: nn.Sequential, x: Tensor, chunk: int = 8192) -> Tensor:
    """``net(x)`` for a stack of Linear and ReLU layers, without autograd, ~30% faster on
    CPU: fused bias (addmm), in-place ReLU, and chunks of rows that stay in cache."""
    layers = list(net)
    if not all(isinstance(m, nn.Linear | nn.ReLU) for m in layers):
        return net(x)
    outs = []
    for part in x.split(chunk):
        h = part
        for m in layers:
            if isinstance(m, nn.Linear):
                h = torch.addmm(m.bias, h, m.weight.t()) if m.bias is not None else h @ m.weight.t()
            else:
                h = h.relu_()
        outs.append(h)
    return torch.cat(outs) if len(outs) > 1 else outs[0]


class TableGenerator(MLPGenerator):
    """z (B, Z) [+ ctx] -> encoded rows (B, D) of a mixed-type table.

    Continuous entries are linear; every one-hot block gets a Gumbel-softmax while training
    (so D sees near-one-hot vectors and gradients still flow) and stays as logits in eval
    mode, where the decoder draws the category.
    """

    def __init__(self, s: NetSpec) -> None:
        super().__init__(s)
        self.spans, self.tau = s.softmax_spans, s.tau

    def forward(self, z: Tensor, ctx: Tensor | None = None) -> Tensor:
        out = super().forward(z, ctx)
        if not self.training or not self.spans:
            return out
        parts, at = [], 0
        for start, width in self.spans:
            parts.append(out[:, at:start])
            # the global torch RNG draws the Gumbel noise; the trainer checkpoints its state
            parts.append(F.gumbel_softmax(out[:, start : start + width], tau=self.tau, dim=1))
            at = start + width
        parts.append(out[:, at:])
        return torch.cat(parts, dim=1)


class MLPDiscriminator(nn.Module):
    """samples (B, D) [+ ctx (B, K)] -> scores (B/pac,)."""

    def __init__(self, s: NetSpec) -> None:
        super().__init__()
        self.pac = s.pac
        d_in = s.pac * (s.sample_shape[0] + s.ctx_dim)
        layers: list[nn.Module] = []
        for i in range(s.d_layers):
            a = d_in if i == 0 else s.d_hidden
            if s.pieces > 1:
                layers.append(Maxout(a, s.d_hidden, s.pieces, s.spectral_norm))
            else:
                layers += [_maybe_sn(nn.Linear(a, s.d_hidden), s.spectral_norm), nn.LeakyReLU(0.2)]
        layers.append(_maybe_sn(nn.Linear(s.d_hidden, 1), s.spectral_norm))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor, ctx: Tensor | None = None) -> Tensor:
        if ctx is not None:
            x = torch.cat([x, ctx], dim=1)
        return self.net(_pack(x, self.pac)).squeeze(-1)


# ----------------------------------------------------------------------------- DCGAN
class DCGANGenerator(nn.Module):
    """z (B, Z) [+ ctx] -> images (B, C, S, S), S in {32, 64}, values in (-1, 1)."""

    def __init__(self, s: NetSpec, width: int = 64) -> None:
        super().__init__()
        c, h, w = s.sample_shape
        if h != w or h not in (32, 64):
            raise ValueError(f"dcgan nets make 32 or 64 px square images, not {h}x{w}")
        ups = {32: 3, 64: 4}[h]
        ch = width * 2 ** (ups - 1)
        self.fc = nn.Linear(s.z_dim + s.ctx_dim, ch * 16)
        self.ch = ch
        layers: list[nn.Module] = [nn.BatchNorm2d(ch), nn.ReLU()]
        for _ in range(ups - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1), nn.BatchNorm2d(ch // 2), nn.ReLU()]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, c, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, ctx: Tensor | None = None) -> Tensor:
        x = self.fc(z if ctx is None else torch.cat([z, ctx], dim=1))
        return self.net(x.view(x.shape[0], self.ch, 4, 4))


class DCGANDiscriminator(nn.Module):
    """images (B, C, S, S) [+ ctx as constant planes] -> scores (B/pac,)."""

    def __init__(self, s: NetSpec, width: int = 64) -> None:
        super().__init__()
        c, h, _ = s.sample_shape
        self.pac = s.pac
        ch_in = s.pac * (c + s.ctx_dim)
        layers: list[nn.Module] = []
        ch = width
        size = h
        while size > 4:
            layers += [_maybe_sn(nn.Conv2d(ch_in, ch, 4, 2, 1), s.spectral_norm), nn.LeakyReLU(0.2)]
            ch_in, ch, size = ch, ch * 2, size // 2
        self.conv = nn.Sequential(*layers)
        self.fc = _maybe_sn(nn.Linear(ch_in * 16, 1), s.spectral_norm)

    def forward(self, x: Tensor, ctx: Tensor | None = None) -> Tensor:
        if ctx is not None:
            planes = ctx[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
            x = torch.cat([x, planes], dim=1)
        h = self.conv(_pack(x, self.pac))
        return self.fc(h.flatten(1)).squeeze(-1)


# ------------------------------------------------------------------------------- GRU
class GRUGenerator(nn.Module):
    """z (B, Z) [+ ctx] -> sequences (B, T, F): fresh noise each step, one GRU over time."""

    def __init__(self, s: NetSpec) -> None:
        super().__init__()
        self.t, f = s.sample_shape
        self.z_dim = s.z_dim
        self.gru = nn.GRU(s.z_dim + s.ctx_dim, s.g_hidden, num_layers=2, batch_first=True)
        self.out = nn.Linear(s.g_hidden, f)

    def forward(self, z: Tensor, ctx: Tensor | None = None) -> Tensor:
        # z: (B, Z) seeds a per-step noise sequence deterministically: (B, T, Z)
        steps = z[:, None, :].expand(-1, self.t, -1)
        phase = torch.arange(self.t, device=z.device, dtype=z.dtype)[None, :, None]
        seq = torch.sin(steps * (1.0 + phase))
        if ctx is not None:
            seq = torch.cat([seq, ctx[:, None, :].expand(-1, self.t, -1)], dim=2)
        h, _ = self.gru(seq)
        return self.out(h)


class GRUDiscriminator(nn.Module):
    """sequences (B, T, F) [+ ctx] -> scores (B/pac,)."""

    def __init__(self, s: NetSpec) -> None:
        super().__init__()
        _, f = s.sample_shape
        self.pac = s.pac
        self.gru = nn.GRU(s.pac * (f + s.ctx_dim), s.d_hidden, batch_first=True)
        self.out = _maybe_sn(nn.Linear(s.d_hidden, 1), s.spectral_norm)

    def forward(self, x: Tensor, ctx: Tensor | None = None) -> Tensor:
        if ctx is not None:
            x = torch.cat([x, ctx[:, None, :].expand(-1, x.shape[1], -1)], dim=2)
        if self.pac > 1:  # pack along features: (B, T, F) -> (B/pac, T, pac*F)
            b, t, f = x.shape
            x = (
                x.view(b // self.pac, self.pac, t, f)
                .permute(0, 2, 1, 3)
                .reshape(b // self.pac, t, self.pac * f)
            )
        _, h = self.gru(x)
        return self.out(h[-1]).squeeze(-1)


Builder = Callable[[NetSpec], tuple[nn.Module, nn.Module]]
NETS: Registry[Builder] = Registry("network")
NETS.add("mlp", lambda s: (MLPGenerator(s), MLPDiscriminator(s)))
NETS.add("table", lambda s: (TableGenerator(s), MLPDiscriminator(s)))
NETS.add("dcgan", lambda s: (DCGANGenerator(s, s.width), DCGANDiscriminator(s, s.width)))
NETS.add("gru", lambda s: (GRUGenerator(s), GRUDiscriminator(s)))


def build(name: str, spec: NetSpec) -> tuple[nn.Module, nn.Module]:
    """(G, D) for ``name``; raises ``RegistryError`` listing the valid names."""
    return NETS.get(name)(spec)
