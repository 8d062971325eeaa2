"""What the artificial world on a real network records, and how it becomes an Observation.

Per edge and interval: the vehicles that left the edge, their seconds on it (mean speed
is distance over time, as SUMO's ``edgeData`` reports it) and their seconds waiting at
its stop line (SUMO's ``waitingTime``); per finished trip, one vehicle record. The same
fields and meaning as the SUMO world's detectors and trip records
(:mod:`parallel.traffic.observation`), so that the judge compares like with like.

Counters are plain lists: a numpy scalar update costs ten times more, and these run once
per vehicle and edge.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import simpy

from parallel.traffic.network import RoadNet
from parallel.traffic.observation import (
    VEHICLE_SCHEMA,
    Observation,
    compute_kpis,
    detector_table,
)


class Tally:
    """One replication's detector counters and vehicle records."""

    def __init__(
        self,
        env: simpy.Environment,
        net: RoadNet,
        routes: Sequence[tuple[int, ...]],
        duration_s: float,
        interval_s: float,
    ) -> None:
        """Records of ``[0, duration_s)`` in intervals of ``interval_s``; ``routes`` are
        the demand's routes (edge indices), which vehicle records refer to by index."""
        self.env, self.net, self.routes = env, net, routes
        self.duration_s, self.interval_s = duration_s, interval_s
        self.n_int = max(int(np.ceil(duration_s / interval_s - 1e-9)), 1)
        self.count = [[0] * self.n_int for _ in net.edges]
        self.time_sum = [[0.0] * self.n_int for _ in net.edges]
        self.wait = [[0.0] * self.n_int for _ in net.edges]
        self.rows: list[tuple] = []
        self.length = [e.length_m for e in net.edges]
        self.free = [net.free_time_s(rt) for rt in routes]

    def _slot(self, t: float) -> int:
        k = int(t // self.interval_s)
        return k if 0 <= k < self.n_int else -1

    def crossed(self, e: int, t_link: float, now: float) -> None:
        """A vehicle left edge ``e`` at ``now``; it entered at ``t_link``."""
        k = int(now // self.interval_s)
        if 0 <= k < self.n_int:
            self.count[e][k] += 1
            self.time_sum[e][k] += max(now - t_link, 1e-6)

    def waited(self, e: int, t_a: float, t_b: float) -> None:
        """Waiting seconds spread over the intervals they fall in (SUMO's waitingTime)."""
        dt = self.interval_s
        while t_a < t_b:
            k = self._slot(t_a)
            end = min(t_b, (int(t_a // dt) + 1) * dt)
            if k >= 0:
                self.wait[e][k] += end - t_a
            t_a = end

    def finish(self, vid: int, r: int, t_in: float, stops: int) -> None:
        """Vehicle ``vid`` on route ``r`` arrives now; trips that end after the observed
        window are not recorded, as SUMO's trip info of the window does not hold them."""
        now = self.env.now
        if now < self.duration_s:
            tt = now - t_in
            route = self.routes[r]
            edges = self.net.edges
            delay = max(tt - self.free[r], 0.0)
            self.rows.append(
                (vid, edges[route[0]].id, edges[route[-1]].id, t_in, now, tt, delay, stops)
            )

    def observation(self, wall: float, teleports: int) -> Observation:
        """The replication's Observation: vehicle records, detectors, KPIs."""
        veh = _vehicle_table(self.rows)
        with np.errstate(invalid="ignore", divide="ignore"):
            count = np.array(self.count, np.int64).reshape(len(self.net.edges), self.n_int)
            secs = np.array(self.time_sum, float).reshape(count.shape)
            length = np.array(self.length, float)[:, None]
            speed = np.where(count > 0, 3.6 * length * count / np.maximum(secs, 1e-9), np.nan)
        wait = np.array(self.wait, float).reshape(count.shape)
        names = [e.id for e in self.net.edges]
        det = detector_table(names, count, speed, wait, self.interval_s)
        kpis = compute_kpis(veh, det, self.duration_s)
        meta = {"world": "artificial", "teleports": teleports, "sim_wall_s": wall}
        return Observation(veh, det, kpis, meta)


def _vehicle_table(rows: list[tuple]) -> pd.DataFrame:
    """The vehicle records as a :data:`VEHICLE_SCHEMA` table, column by column (a third
    of the time of building it row-wise and casting, which every run pays)."""
    cols: list[tuple] = list(zip(*rows)) if rows else [()] * len(VEHICLE_SCHEMA)
    return pd.DataFrame(
        {
            name: pd.array(col, dtype="string") if dtype == "string" else np.array(col, dtype)
            for (name, dtype), col in zip(VEHICLE_SCHEMA.items(), cols)
        }
    )
