"""The Observation schema shared by every world, and the recorder that fills it.

An :class:`Observation` is plain data: a vehicle-records table, a detector-intervals
table and a dict of scalar KPIs. The actual and the artificial worlds produce the same
schema, so the judge never needs to know which is which.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from parallel.core.errors import DataError
from parallel.core.runfolder import atomic_write

#: vehicle records: one row per vehicle that left the network in the measured horizon
VEHICLE_SCHEMA: dict[str, str] = {
    "vehicle_id": "int64",
    "origin": "string",
    "destination": "string",
    "entry_time_s": "float64",
    "exit_time_s": "float64",
    "travel_time_s": "float64",
    "delay_s": "float64",
    "stops": "int64",
}
#: detector intervals: one row per (link, interval); the detector sits at the link's end.
#: ``mean_speed_kmh`` is the distance driven on the link over the time spent on it (SUMO's
#: edgeData speed), in every world. ``queue_veh`` differs between the two paths: on a
#: network (the twin, SUMO's city world) the mean number of waiting vehicles (waiting
#: seconds over the interval); in the synthetic scenarios' worlds the largest queue seen
#: at the stop line. Compare it only within one path.
DETECTOR_SCHEMA: dict[str, str] = {
    "link": "string",
    "interval_start_s": "float64",
    "count": "int64",
    "mean_speed_kmh": "float64",
    "queue_veh": "float64",
}
#: probe table columns: one row per probe vehicle, its route as edge ids separated by spaces
PROBE_SCHEMA: dict[str, str] = {"vehicle_id": "string", "depart_s": "float64", "route": "string"}
#: columns where an empty cell is allowed (no vehicle crossed, so no speed)
NULLABLE = frozenset({"mean_speed_kmh"})
KPI_DOC: dict[str, str] = {
    "mean_delay_s": "mean delay against free flow at the speed limit, s (lower is better)",
    "mean_travel_time_s": "mean travel time through the network, s (lower is better)",
    "p95_travel_time_s": "95th percentile travel time, s (lower is better)",
    "throughput_veh_h": "vehicles leaving the network per hour (higher is better)",
    "max_queue_veh": "largest queue at any stop line, vehicles (lower is better)",
}


@dataclass
class Observation:
    """What one world showed over one horizon under one control."""

    vehicles: pd.DataFrame
    detectors: pd.DataFrame
    kpis: dict[str, float]
    meta: dict[str, Any] = field(default_factory=dict)
    #: probe vehicles with their routes (``vehicle_id``, ``depart_s``, ``route`` as edge
    #: ids separated by spaces), where the world has them
    probes: pd.DataFrame | None = None

    def save(self, folder: Path, stem: str) -> list[Path]:
        """Write both tables as Parquet under ``folder``; returns the paths."""
        folder.mkdir(parents=True, exist_ok=True)
        out = []
        tables = [("vehicles", self.vehicles), ("detectors", self.detectors)]
        if self.probes is not None:
            tables.append(("probes", self.probes))
        for name, df in tables:
            path = folder / f"{stem}.{name}.parquet"
            buf = io.BytesIO()
            df.to_parquet(buf, index=False)
            atomic_write(path, buf.getvalue())
            out.append(path)
        return out

    @classmethod
    def read(
        cls, folder: Path, stem: str, kpis: dict[str, float | None], meta: dict[str, Any]
    ) -> Observation:
        """The tables that :meth:`save` wrote, with the KPIs and meta kept beside them (a
        KPI saved as JSON null, being NaN, comes back as NaN)."""

        def table(name: str, schema: dict[str, str]) -> pd.DataFrame:
            return pd.read_parquet(folder / f"{stem}.{name}.parquet").astype(schema)

        has_probes = (folder / f"{stem}.probes.parquet").is_file()
        return cls(
            table("vehicles", VEHICLE_SCHEMA),
            table("detectors", DETECTOR_SCHEMA),
            {k: float("nan") if v is None else float(v) for k, v in kpis.items()},
            dict(meta),
            table("probes", PROBE_SCHEMA) if has_probes else None,
        )


def detector_table(
    edges: list[str],
    count: np.ndarray,
    speed_kmh: np.ndarray,
    wait_s: np.ndarray,
    interval_s: float,
) -> pd.DataFrame:
    """Detector intervals from (edges, intervals) arrays: the count leaving each edge, the
    mean speed, and the mean number of halting vehicles (waiting seconds / interval), the
    way SUMO's ``edgeData`` measures them."""
    n_e, n_int = count.shape
    det = pd.DataFrame(
        {
            "link": np.repeat(edges, n_int),
            "interval_start_s": np.tile(np.arange(n_int) * interval_s, n_e),
            "count": count.ravel(),
            "mean_speed_kmh": speed_kmh.ravel(),
            "queue_veh": (wait_s / interval_s).ravel(),
        }
    )
    return det.astype(DETECTOR_SCHEMA)


def compute_kpis(
    vehicles: pd.DataFrame, detectors: pd.DataFrame, duration_s: float
) -> dict[str, float]:
    """The five KPIs from the two tables (see :data:`KPI_DOC`)."""
    tt = vehicles["travel_time_s"].to_numpy(float)
    n = len(tt)
    queue = detectors["queue_veh"].to_numpy(float) if len(detectors) else np.zeros(1)
    return {
        "mean_delay_s": float(vehicles["delay_s"].mean()) if n else float("nan"),
        "mean_travel_time_s": float(tt.mean()) if n else float("nan"),
        "p95_travel_time_s": float(np.percentile(tt, 95)) if n else float("nan"),
        "throughput_veh_h": float(n * 3600.0 / duration_s),
        "max_queue_veh": float(queue.max()) if len(queue) else 0.0,
    }


def conform(df: pd.DataFrame, schema: dict[str, str], what: str) -> pd.DataFrame:
    """Check ``df`` against ``schema`` and cast it; extra columns are dropped.

    Raises:
        DataError: listing every missing column and every column of the wrong type.
    """
    missing = [c for c in schema if c not in df.columns]
    wrong: list[str] = []
    out = {}
    for col, dtype in schema.items():
        if col in missing:
            continue
        s = df[col]
        if dtype == "string":
            out[col] = s.astype("string")
            continue
        num = pd.to_numeric(s, errors="coerce")
        bad = num.isna() & s.notna()
        if bad.any() or (dtype == "int64" and num.notna().all() and (num % 1 != 0).any()):
            first = s[bad].iloc[0] if bad.any() else s[num % 1 != 0].iloc[0]
            wrong.append(f"{col} (expected {dtype.rstrip('64')}, found {first!r})")
            continue
        if num.isna().any() and col not in NULLABLE:
            wrong.append(f"{col} (expected {dtype.rstrip('64')}, found empty cells)")
            continue
        out[col] = num.astype(dtype)  # type: ignore[call-overload]
    if missing or wrong:
        parts = []
        if missing:
            parts.append("missing columns: " + ", ".join(missing))
        if wrong:
            parts.append("mistyped columns: " + "; ".join(wrong))
        raise DataError(
            f"{what}: "
            + "; ".join(parts)
            + ". Required columns: "
            + ", ".join(f"{c} ({t.rstrip('64')})" for c, t in schema.items())
        )
    return pd.DataFrame(out)


def read_table(path: Path, schema: dict[str, str]) -> pd.DataFrame:
    """Read a CSV or Parquet table and conform it to ``schema``.

    Raises:
        DataError: missing or unreadable file, or a schema mismatch.
    """
    if not path.is_file():
        raise DataError(f"{path}: data file not found")
    try:
        df = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # any parse failure is the user's file, not our bug
        raise DataError(f"{path}: cannot read the file ({exc.__class__.__name__}: {exc})") from None
    if df.empty:
        raise DataError(f"{path}: the table has no rows")
    return conform(df, schema, str(path))


class Recorder:
    """Collects vehicle records and detector intervals during a simulation.

    Both worlds call :meth:`crossing` when a vehicle leaves a link, :meth:`queue` when a
    stop line's queue length is seen, and :meth:`finish` when a vehicle leaves the
    network. Only what happens in ``[t0, t1)`` is recorded. The per-event methods work
    on plain lists: they run once per vehicle and link, where numpy scalar access costs
    more than it saves.
    """

    def __init__(self, links: list[str], t0: float, t1: float, interval_s: float) -> None:
        self.links = links
        self.link_index = {name: i for i, name in enumerate(links)}
        self.t0, self.t1, self.dt = t0, t1, interval_s
        n_int = int(np.ceil((t1 - t0) / interval_s - 1e-9))
        self.n_int = max(n_int, 1)
        self.count = [[0] * self.n_int for _ in links]
        # metres driven and seconds spent per link and interval: the mean speed is their
        # ratio, as SUMO's edgeData reports it (not an average of each vehicle's speed)
        self.metres = [[0.0] * self.n_int for _ in links]
        self.seconds = [[0.0] * self.n_int for _ in links]
        self.queue_max = [[0.0] * self.n_int for _ in links]
        self.rows: list[tuple[int, str, str, float, float, float, float, int]] = []

    def _slot(self, t: float) -> int:
        if t < self.t0 or t >= self.t1:
            return -1
        k = int((t - self.t0) // self.dt)
        return k if k < self.n_int else self.n_int - 1

    def crossing(self, link: int, t: float, length_m: float, seconds: float) -> None:
        """A vehicle left ``link`` at ``t`` after ``seconds`` on its ``length_m``."""
        k = self._slot(t)
        if k >= 0:
            self.count[link][k] += 1
            self.metres[link][k] += length_m
            self.seconds[link][k] += max(seconds, 1e-9)

    def queue(self, link: int, t: float, n: float) -> None:
        k = self._slot(t)
        if k >= 0 and n > self.queue_max[link][k]:
            self.queue_max[link][k] = n

    def queue_many(self, t: float, per_link: np.ndarray) -> None:
        """:meth:`queue` for every link at once (``per_link``: (n_links,))."""
        k = self._slot(t)
        if k >= 0:
            qm = self.queue_max
            for i in np.flatnonzero(per_link).tolist():
                if per_link[i] > qm[i][k]:
                    qm[i][k] = float(per_link[i])

    def finish(
        self,
        vid: int,
        origin: str,
        dest: str,
        t_in: float,
        t_out: float,
        free_tt: float,
        stops: int,
    ) -> None:
        if self.t0 <= t_out < self.t1:
            tt = t_out - t_in
            self.rows.append((vid, origin, dest, t_in, t_out, tt, max(tt - free_tt, 0.0), stops))

    def observation(self, meta: dict[str, Any]) -> Observation:
        veh = pd.DataFrame(self.rows, columns=list(VEHICLE_SCHEMA))
        veh = veh.astype(VEHICLE_SCHEMA).sort_values("vehicle_id", kind="stable")
        veh = veh.reset_index(drop=True)
        li, ki = np.meshgrid(np.arange(len(self.links)), np.arange(self.n_int), indexing="ij")
        cnt = np.asarray(self.count, np.int64).ravel()
        with np.errstate(invalid="ignore", divide="ignore"):
            secs = np.asarray(self.seconds).ravel()
            spd = np.where(cnt > 0, 3.6 * np.asarray(self.metres).ravel() / secs, np.nan)
        det = pd.DataFrame(
            {
                "link": np.asarray(self.links, dtype=object)[li.ravel()],
                "interval_start_s": self.t0 + ki.ravel() * self.dt,
                "count": cnt,
                "mean_speed_kmh": spd,
                "queue_veh": np.asarray(self.queue_max, float).ravel(),
            }
        ).astype(DETECTOR_SCHEMA)
        kpis = compute_kpis(veh, det, self.t1 - self.t0)
        return Observation(veh, det, kpis, meta)


def combine(observations: list[Observation]) -> Observation:
    """Pool replications: vehicle records are stacked, detector values and KPIs averaged.

    Detector ``count`` becomes the mean count (a float rounded to the nearest integer is
    *not* taken, so that GEH sees the expected flow).
    """
    if len(observations) == 1:
        return observations[0]
    veh = pd.concat([o.vehicles for o in observations], ignore_index=True)
    det = pd.concat([o.detectors for o in observations], ignore_index=True)
    det = (
        det.groupby(["link", "interval_start_s"], sort=True, observed=True)
        .agg(
            count=("count", "mean"),
            mean_speed_kmh=("mean_speed_kmh", "mean"),
            queue_veh=("queue_veh", "mean"),
        )
        .reset_index()
    )
    kpis = {k: float(np.mean([o.kpis[k] for o in observations])) for k in observations[0].kpis}
    meta = dict(observations[0].meta)
    meta["replications"] = len(observations)
    return Observation(veh, det, kpis, meta)
