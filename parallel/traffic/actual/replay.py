"""The replay world: observed logs in the Observation schema.

This is what a user with real detector data brings. It can be judged against and
calibrated to, but not acted on: observing it under another control returns the same
logs, and the loop says so in the report.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from parallel.traffic.observation import (
    DETECTOR_SCHEMA,
    VEHICLE_SCHEMA,
    Observation,
    compute_kpis,
    read_table,
)
from parallel.traffic.scenario import Plan
from parallel.traffic.scenario import ReplayWorld as ReplayCfg
from parallel.traffic.world import WorldSpec


class ReplayWorld:
    """Reads vehicle records and detector intervals once and serves them on every observe."""

    name = "replay"
    actionable = False

    def __init__(self, spec: WorldSpec, cfg: ReplayCfg, source_dir: str) -> None:
        base = Path(source_dir)
        self.vehicles = read_table(base / cfg.vehicles, VEHICLE_SCHEMA)
        self.detectors = read_table(base / cfg.detectors, DETECTOR_SCHEMA)
        self.spec = spec
        self.source = {"vehicles": str(base / cfg.vehicles), "detectors": str(base / cfg.detectors)}

    def observe(self, plan: Plan, seed: np.random.SeedSequence) -> Observation:
        kpis = compute_kpis(self.vehicles, self.detectors, self.spec.demand.duration_s)
        return Observation(
            self.vehicles.copy(),
            self.detectors.copy(),
            kpis,
            {"world": "replay", "plan": plan.model_dump(mode="json"), **self.source},
        )
