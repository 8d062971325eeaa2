"""The replay world: observed logs in the Observation schema.

This is what a user with real detector data brings. It can be judged against and
calibrated to, but not acted on: observing it under another control returns the same
logs, and the loop says so in the report.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from parallel.core.errors import DataError
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
        topo = spec.topology()
        check_vehicles(self.vehicles, base / cfg.vehicles, topo.origins, topo.exit_node)
        check_detectors(self.detectors, base / cfg.detectors, topo.links)
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


def _row(df: pd.DataFrame, mask: pd.Series | np.ndarray) -> int:
    """The file's line of the first row where ``mask`` holds (line 1 is the header)."""
    return int(np.flatnonzero(np.asarray(mask))[0]) + 2


def _finite_nonneg(df: pd.DataFrame, path: Path, columns: list[str]) -> None:
    for col in columns:
        v = df[col].to_numpy(float)
        bad = ~np.isfinite(v)
        if bad.any():
            raise DataError(
                f"{path}: line {_row(df, bad)}: {col} is {df[col].iloc[int(np.flatnonzero(bad)[0])]}"
                "; every value must be a finite number"
            )
        neg = v < 0
        if neg.any():
            raise DataError(
                f"{path}: line {_row(df, neg)}: {col} = {v[neg][0]:g} is negative; times, "
                "counts and queues are never below 0"
            )


def check_vehicles(df: pd.DataFrame, path: Path, origins: list[str], exits: list[str]) -> None:
    """Refuse vehicle records that cannot be right, naming the file, line and field.

    Raises:
        DataError: an unknown origin or destination, a non-finite or negative time, an
            exit before the entry, or a vehicle_id used twice.
    """
    for col, valid in (("origin", set(origins)), ("destination", {e for e in exits if e})):
        bad = ~df[col].isin(valid)
        if bad.any():
            raise DataError(
                f"{path}: line {_row(df, bad)}: {col} {df[col][bad].iloc[0]!r} is not in the "
                f"scenario's network; valid: {', '.join(sorted(valid))}"
            )
    _finite_nonneg(df, path, ["entry_time_s", "exit_time_s", "travel_time_s", "delay_s", "stops"])
    early = df["exit_time_s"].to_numpy(float) < df["entry_time_s"].to_numpy(float)
    if early.any():
        raise DataError(
            f"{path}: line {_row(df, early)}: exit_time_s is before entry_time_s; check the "
            "columns' order and units"
        )
    dup = df["vehicle_id"].duplicated()
    if dup.any():
        share = 1.0 - df["vehicle_id"].nunique() / len(df)
        raise DataError(
            f"{path}: line {_row(df, dup)}: vehicle_id {df['vehicle_id'][dup].iloc[0]} appears "
            f"again ({share:.0%} of the rows repeat an id); each vehicle needs its own id"
        )


def check_detectors(df: pd.DataFrame, path: Path, links: list[str]) -> None:
    """Refuse detector intervals that cannot be right, naming the file, line and field.

    Raises:
        DataError: a link not in the network, a negative or non-finite value, or the
            same (link, interval) twice.
    """
    bad = ~df["link"].isin(set(links))
    if bad.any():
        raise DataError(
            f"{path}: line {_row(df, bad)}: link {df['link'][bad].iloc[0]!r} is not in the "
            f"scenario's network; links look like {', '.join(links[:4])}"
        )
    _finite_nonneg(df, path, ["interval_start_s", "count", "queue_veh"])
    dup = df.duplicated(["link", "interval_start_s"])
    if dup.any():
        raise DataError(
            f"{path}: line {_row(df, dup)}: link {df['link'][dup].iloc[0]!r} has a second row "
            "for the same interval_start_s; give one row per link and interval"
        )
