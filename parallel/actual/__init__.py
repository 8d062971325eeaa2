"""Actual worlds: the systems the artificial world is judged against.

``reference`` is a microscopic car-following world with hidden truth; ``replay`` reads
observed logs. Both emit the shared Observation schema.
"""

from __future__ import annotations

from parallel.actual.reference import ReferenceWorld
from parallel.actual.replay import ReplayWorld
from parallel.errors import ScenarioError
from parallel.registry import Registry
from parallel.scenario import ReferenceWorld as ReferenceCfg
from parallel.scenario import ReplayWorld as ReplayCfg
from parallel.scenario import Scenario
from parallel.world import World, WorldSpec

WORLDS: Registry[type] = Registry("actual world")
WORLDS.add("reference", ReferenceWorld)
WORLDS.add("replay", ReplayWorld)


def make_actual(sc: Scenario) -> World:
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
    raise ScenarioError(
        f"unknown actual world {cfg!r}; valid: {', '.join(WORLDS)}"
    )  # pragma: no cover
