"""Traffic states for rendering: where every vehicle is at a time ``t``.

The artificial world is mesoscopic: a vehicle's trajectory is, per link, when it entered
the link, reached its stop line and left it (``simulate_driving``'s list columns). Between
entering and reaching the stop line it moves at a constant speed along the link; between
the stop line and leaving it waits in the link's queue, one vehicle length (7 m) behind
the vehicle in front. Positions sit on the right-hand lane of the link's centreline.

Vehicle classes are an appearance attribute (the simulation does not model them): drawn
per vehicle from its id (85% car, 10% truck, 5% bus), so a vehicle keeps its class in
every frame.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from parallel.traffic.topology import Topology

CLASSES = ("car", "truck", "bus")
#: (length, width, height) in metres
SIZES = {"car": (4.5, 1.8, 1.5), "truck": (10.0, 2.5, 3.2), "bus": (12.0, 2.5, 3.0)}
QUEUE_SPACING_M = 7.0
STOP_BACK_M = 10.0  # the stop line, back from the junction centre
LANE_OFFSET_M = 1.75  # centre of the right-hand lane from the centreline


@dataclass(frozen=True)
class Vehicles:
    """Vehicles on the network at one instant (arrays of equal length N)."""

    track: np.ndarray  # (N,) int64 stable id across frames
    vehicle_id: np.ndarray  # (N,) int64 id within its replication
    cls: np.ndarray  # (N,) int index into CLASSES
    x: np.ndarray  # (N,) m, centre
    y: np.ndarray  # (N,) m
    heading: np.ndarray  # (N,) rad, direction of travel

    def __len__(self) -> int:
        return len(self.track)

    def corners(self) -> np.ndarray:
        """(N, 4, 2) ground corners of each vehicle's footprint, in metres."""
        size = np.array([SIZES[c][:2] for c in CLASSES])[self.cls]  # (N, 2)
        half_l, half_w = size[:, 0] / 2, size[:, 1] / 2
        c, s = np.cos(self.heading), np.sin(self.heading)
        local = np.array([[1, 1], [1, -1], [-1, -1], [-1, 1]], float)  # (4, 2)
        dx = local[None, :, 0] * half_l[:, None]
        dy = local[None, :, 1] * half_w[:, None]
        return np.stack(
            [
                self.x[:, None] + c[:, None] * dx - s[:, None] * dy,
                self.y[:, None] + s[:, None] * dx + c[:, None] * dy,
            ],
            axis=-1,
        )


def track_id(run: str, vehicle_id: int) -> int:
    """A stable 63-bit id for a vehicle of a replication (the COCO ``track_id``)."""
    h = hashlib.blake2b(f"{run}:{vehicle_id}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") >> 1


def vehicle_class(track: int) -> int:
    u = (track % 1000) / 1000
    return 0 if u < 0.85 else (1 if u < 0.95 else 2)


class Timeline:
    """Vehicle states at any time of one replication, from its trajectory table."""

    def __init__(self, table: pa.Table, topo: Topology) -> None:
        self.topo = topo
        link_index = {name: i for i, name in enumerate(topo.links)}
        pos = topo.graph.nodes
        # link geometry: start point, unit direction, drawn length
        self.start = np.zeros((len(topo.links), 2))
        self.dir = np.zeros((len(topo.links), 2))
        self.seg = np.zeros(len(topo.links))
        for u, v, d in topo.graph.edges(data=True):
            i = link_index[d["id"]]
            a, b = np.asarray(pos[u]["pos"], float), np.asarray(pos[v]["pos"], float)
            self.start[i], self.seg[i] = a, float(np.linalg.norm(b - a))
            self.dir[i] = (b - a) / max(self.seg[i], 1e-9)
        runs = table.column("run").to_pylist()
        vids = table.column("vehicle_id").to_numpy()
        rows = []  # (track, vid, link, t_enter, t_stop, t_exit)
        for run, vid, links, te, ts, tx in zip(
            runs,
            vids,
            table.column("links").to_pylist(),
            table.column("t_enter_s").to_pylist(),
            table.column("t_stopline_s").to_pylist(),
            table.column("t_exit_s").to_pylist(),
        ):
            tr = track_id(run, int(vid))
            for k, name in enumerate(links):
                rows.append((tr, int(vid), link_index[name], te[k], ts[k], tx[k]))
        a = np.array(rows, dtype=float) if rows else np.zeros((0, 6))
        # ids are 63-bit: keep them out of the float array
        self.track = np.array([r[0] for r in rows], dtype=np.int64)
        self.vid = a[:, 1].astype(np.int64)
        self.link = a[:, 2].astype(np.int64)
        self.t_enter, self.t_stop, self.t_exit = a[:, 3], a[:, 4], a[:, 5]

    def at(self, t: float) -> Vehicles:
        """Every vehicle on a link at time ``t``."""
        on = (self.t_enter <= t) & (t < self.t_exit)
        idx = np.flatnonzero(on)
        link = self.link[idx]
        moving = t < self.t_stop[idx]
        frac = np.where(
            moving,
            (t - self.t_enter[idx]) / np.maximum(self.t_stop[idx] - self.t_enter[idx], 1e-9),
            1.0,
        )
        s = frac * self.seg[link]
        # queued vehicles: rank on their link by stop-line arrival
        queued = np.flatnonzero(~moving)
        if len(queued):
            order = np.lexsort((self.t_stop[idx[queued]], link[queued]))
            q = queued[order]
            ql = link[q]
            first = np.r_[True, ql[1:] != ql[:-1]]
            start = np.maximum.accumulate(np.where(first, np.arange(len(q)), 0))
            rank = np.arange(len(q)) - start
            s[q] = np.maximum(self.seg[ql] - STOP_BACK_M - rank * QUEUE_SPACING_M, 0.0)
        d = self.dir[link]
        normal = np.c_[d[:, 1], -d[:, 0]]  # to the right of the direction of travel
        xy = self.start[link] + d * s[:, None] + normal * LANE_OFFSET_M
        track = self.track[idx]
        return Vehicles(
            track,
            self.vid[idx],
            np.array([vehicle_class(int(k)) for k in track], np.int64),
            xy[:, 0],
            xy[:, 1],
            np.arctan2(d[:, 1], d[:, 0]),
        )
