"""What every world shares: the public spec, the artificial parameters and the protocol.

:class:`WorldSpec` is the part of a scenario that both sides may read: the network, the
horizon, route choice and signal constraints. It deliberately has no hidden truth, so
the artificial side cannot read it even by accident.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from parallel.traffic.observation import Observation
from parallel.traffic.scenario import (
    ArtificialParams,
    Behaviours,
    ControlConfig,
    DemandConfig,
    Plan,
    Scenario,
)
from parallel.traffic.topology import NetworkConfig, Topology, topology


@dataclass(frozen=True)
class WorldSpec:
    """Public description of the system: no hidden truth lives here."""

    network: NetworkConfig
    demand: DemandConfig
    control: ControlConfig
    interval_s: float
    net_file: str | None = None  # a SUMO .net.xml or graph .json the network is read from

    @classmethod
    def of(cls, sc: Scenario) -> WorldSpec:
        net = sc.network.file if sc.network.kind == "file" else None
        return cls(sc.network, sc.demand, sc.control, sc.judge.detector_interval_s, net)

    def topology(self) -> Topology:
        """The network's lookup tables (cached)."""
        return topology(self.network, self.net_file)

    @property
    def t0(self) -> float:
        return self.demand.warmup_s

    @property
    def t1(self) -> float:
        return self.demand.warmup_s + self.demand.duration_s


@dataclass(frozen=True)
class Params:
    """The artificial world's tunable parameters."""

    demand: dict[str, float]
    saturation_headway_s: float
    speed_mean_kmh: float
    speed_sd_kmh: float
    behaviours: Behaviours = field(default_factory=lambda: Behaviours())
    # kind -> a trained LearnedBehaviour (numpy weights), for behaviours set to "learned"
    learned: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_prior(
        cls, prior: ArtificialParams, behaviours: Behaviours, demand: dict[str, float]
    ) -> Params:
        return cls(
            dict(demand),
            prior.saturation_headway_s,
            prior.speed.mean_kmh,
            prior.speed.sd_kmh,
            behaviours,
        )

    def flat(self) -> dict[str, float]:
        """Values by the key paths that ``actual.truth`` uses (``demand.W``, ``speed.mean_kmh``...)."""
        out = {f"demand.{k}": float(v) for k, v in self.demand.items()}
        out["saturation_headway_s"] = float(self.saturation_headway_s)
        out["speed.mean_kmh"] = float(self.speed_mean_kmh)
        out["speed.sd_kmh"] = float(self.speed_sd_kmh)
        return out

    def with_flat(self, values: dict[str, float]) -> Params:
        """A copy with the given flat keys replaced."""
        demand = dict(self.demand)
        kw: dict[str, float] = {}
        for k, v in values.items():
            if k.startswith("demand."):
                demand[k.split(".", 1)[1]] = float(v)
            elif k == "saturation_headway_s":
                kw["saturation_headway_s"] = float(v)
            elif k == "speed.mean_kmh":
                kw["speed_mean_kmh"] = float(v)
            elif k == "speed.sd_kmh":
                kw["speed_sd_kmh"] = float(v)
            else:
                raise KeyError(f"unknown parameter {k!r}")
        return replace(self, demand=demand, **kw)  # type: ignore[arg-type]


class World(Protocol):
    """Anything that can be observed under a control."""

    name: str
    actionable: bool

    def observe(self, plan: Plan, seed: np.random.SeedSequence) -> Observation:
        """Run (or read) the world for one horizon under ``plan``."""
        ...
