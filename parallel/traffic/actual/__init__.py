"""Actual worlds: the systems the artificial world is judged against.

``reference`` is a microscopic car-following world with hidden truth; ``replay`` reads
observed logs. Both emit the shared Observation schema.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from parallel.core.errors import ScenarioError
from parallel.traffic.actual.reference import ReferenceWorld
from parallel.traffic.actual.replay import ReplayWorld
from parallel.traffic.scenario import ReferenceWorld as ReferenceCfg
from parallel.traffic.scenario import ReplayWorld as ReplayCfg
from parallel.traffic.scenario import Scenario
from parallel.traffic.scenario import SumoWorld as SumoCfg
from parallel.traffic.world import World, WorldSpec


def make_actual(sc: Scenario, work_dir: Path | None = None) -> World:
    """Build the scenario's actual world.

    Raises:
        ScenarioError: the world cannot be built from the scenario.
        DataError: a replay file does not fit the Observation schema.
    """
    spec = WorldSpec.of(sc)
    cfg = sc.actual
    if isinstance(cfg, ReferenceCfg):
        return ReferenceWorld(spec, cfg.truth, cfg.step_s)
    if isinstance(cfg, ReplayCfg):
        return ReplayWorld(spec, cfg, sc.source_dir)
    if isinstance(cfg, SumoCfg):
        from parallel.traffic.actual.sumo import SumoWorld

        work = work_dir if work_dir is not None else Path(tempfile.mkdtemp(prefix="parallel-sumo-"))
        return SumoWorld(
            spec, cfg.truth, cfg.step_s, cfg.teleport_limit, work, cfg.time_to_teleport_s
        )
    raise ScenarioError(
        f"unknown actual world {cfg!r}; valid: reference, replay, sumo"
    )  # pragma: no cover
