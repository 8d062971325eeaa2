"""The trainer defaults of each data kind, in one torch-free module.

``parallel train`` uses them, and its ``--help`` quotes them from here, so the help text
and the code cannot disagree (a test checks it).
"""

from __future__ import annotations

from typing import Any

#: Defaults for ``parallel train`` on a bare table: small, fast nets that reach CTGAN's
#: quality on CPU in seconds (see benchmarks/README.md, "Against CTGAN").
TABLE_DEFAULTS: dict[str, Any] = {
    "net": "table",
    "loss": "non-saturating",
    "steps": 3000,
    "batch_size": 200,
    # PacGAN4: with pac 2 about half the seeds learned the rarer movements and lanes
    # poorly (quality 0.87-0.89 against 0.94); pac 4 and 3,000 steps gave 0.936-0.963 over
    # 16 seeds (benchmarks/README.md, "Tables against CTGAN")
    "pac": 4,
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


#: defaults for ``parallel train IMAGES_DIR``: small conv nets that train on CPU in minutes
IMAGE_DEFAULTS: dict[str, Any] = {
    "net": "dcgan",
    "loss": "hinge",
    "spectral_norm": True,
    "augment": "diffaugment",
    "steps": 1000,
    "batch_size": 64,
    "lr_g": 2e-4,
    "lr_d": 2e-4,
    "beta1": 0.0,
    "beta2": 0.9,
    "z_dim": 64,
    "width": 32,
    "ema": 0.99,
    "checkpoint_every": 250,
    "log_every": 25,
}


#: defaults for PacGAN's toys, the settings of the mode-coverage benchmark (see
#: benchmarks/README.md, "GAN mode coverage"); the data are standardised first
TOY_DEFAULTS: dict[str, Any] = {
    "net": "mlp",
    "loss": "hinge",
    "steps": 16000,
    "batch_size": 200,
    "pac": 2,
    "lr_g": 1e-3,
    "lr_d": 1e-3,
    "lr_final": 0.6,
    "beta1": 0.5,
    "ema": 0.999,
    "z_dim": 2,
    "g_hidden": 128,
    "g_layers": 3,
    "d_hidden": 128,
    "d_layers": 3,
    "pieces": 3,
}
