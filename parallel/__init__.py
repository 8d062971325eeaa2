"""Parallel: artificial systems beside actual ones, judged and corrected round by round.

The package follows the ACP method: an *artificial* world (a fast SimPy model) is run
beside an *actual* one (a microscopic reference world, replayed logs or SUMO), judged
against it, calibrated, and used for computational experiments whose best control is
applied back to the actual world. The README shows the layout; ``docs/metrics.md`` defines
every score.

The main entry points are importable from here (loaded on first use, so ``import
parallel`` stays light)::

    from parallel import load_scenario, run_scenario, read_net, generate_table
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: name -> (module, attribute): the library's main entry points
_EXPORTS: dict[str, tuple[str, str]] = {
    "load_scenario": ("parallel.scenarios", "load_any"),
    "run_scenario": ("parallel.traffic.run", "run_scenario"),
    "run_city": ("parallel.traffic.run", "run_city"),
    "run_fidelity": ("parallel.traffic.fidelity", "run_fidelity"),
    "read_net": ("parallel.traffic.network", "read_net"),
    "simulate_net": ("parallel.traffic.artificial.meso", "simulate_net"),
    "make_executor": ("parallel.core.executors", "make_executor"),
    "fit_table": ("parallel.gan.synth", "fit_table"),
    "TableSampler": ("parallel.gan.synth", "TableSampler"),
    "generate_table": ("parallel.data.generate", "generate_table"),
    "generate_driving": ("parallel.data.generate", "generate_driving"),
    "generate_images": ("parallel.data.generate", "generate_images"),
    "generate_vision": ("parallel.vision.dataset", "generate_vision"),
    "verify": ("parallel.data.shards", "verify"),
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'parallel' has no attribute {name!r}")
    module, attr = _EXPORTS[name]
    return getattr(importlib.import_module(module), attr)
