"""A recorded city: one SUMO observation of a real network, written once and replayed.

``parallel record`` on a city scenario runs SUMO under the network's own programs and
writes what a city would hand over: ``detectors.csv`` (counts per edge and interval),
``probes.csv`` (a sample of vehicles with their routes), ``vehicles.csv`` (the vehicle
records the KPIs are computed from) and ``provenance.json``. A scenario whose ``sumo:``
section names that folder as ``replay`` then runs without SUMO installed: the loop
observes the recording once, learns the twin from it and recommends a control, which
cannot be applied to a recording.

The trip file stays hidden truth either way: nothing here reads it.
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from parallel.core.errors import DataError, UserInputError
from parallel.traffic.actual.replay import check_detectors, check_vehicles
from parallel.traffic.demand import PROBE_SCHEMA, parse_probes
from parallel.traffic.network import RoadNet
from parallel.traffic.observation import (
    DETECTOR_SCHEMA,
    VEHICLE_SCHEMA,
    Observation,
    compute_kpis,
    read_table,
)
from parallel.traffic.timing import TimingPlan

if TYPE_CHECKING:
    from parallel.traffic.city import CityScenario

#: the files of a recording, besides provenance.json
TABLES = {"vehicles": VEHICLE_SCHEMA, "detectors": DETECTOR_SCHEMA, "probes": PROBE_SCHEMA}


class RecordedCity:
    """Serves one recorded observation; it cannot be acted on."""

    name = "recorded SUMO"
    actionable = False

    def __init__(self, folder: Path, net: RoadNet, duration_s: float, interval_s: float) -> None:
        """Read and check the recording.

        Raises:
            DataError: a missing or malformed file, naming it, the line and the field; a
                recording made with another counting interval or time window.
        """
        edges = [e.id for e in net.edges]
        t = {k: read_table(folder / f"{k}.csv", s) for k, s in TABLES.items()}
        check_vehicles(t["vehicles"], folder / "vehicles.csv", edges, edges)
        check_detectors(t["detectors"], folder / "detectors.csv", edges)
        parse_probes(net, t["probes"], str(folder / "probes.csv"))
        prov = _provenance(folder)
        for key, want in (("interval_s", interval_s), ("duration_s", duration_s)):
            got = prov.get(key)
            if got is not None and abs(float(got) - want) > 1e-6:
                raise DataError(
                    f"{folder / 'provenance.json'}: {key} is {got:g}, the scenario's is "
                    f"{want:g}; record again with this scenario (parallel record) or set the "
                    "scenario to match the recording"
                )
        starts = t["detectors"]["interval_start_s"].to_numpy(float)
        off = np.abs(starts / interval_s - np.round(starts / interval_s)) > 1e-6
        if off.any():
            row = int(np.flatnonzero(off)[0]) + 2
            raise DataError(
                f"{folder / 'detectors.csv'}: line {row}: interval_start_s {starts[off][0]:g} "
                f"is not a multiple of the scenario's observation.interval_s ({interval_s:g})"
            )
        self.tables, self.duration_s, self.folder = t, duration_s, folder

    def observe(self, plan: TimingPlan, seed: np.random.SeedSequence) -> Observation:
        t = self.tables
        veh, det = t["vehicles"].copy(), t["detectors"].copy()
        obs = Observation(
            veh,
            det,
            compute_kpis(veh, det, self.duration_s),
            {"world": "recorded SUMO", "plan": plan.label, "recording": str(self.folder)},
        )
        obs.probes = t["probes"].copy()
        return obs


def _provenance(folder: Path) -> dict[str, Any]:
    path = folder / "provenance.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not readable JSON ({exc}); record again") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object; record again")
    return data


def record_city(sc: CityScenario, out: Path, argv: list[str] | None = None) -> dict[str, Any]:
    """Observe a city scenario's SUMO world once, under the network's own programs, as the
    closed loop's first round does (same seed), and write the recording to ``out``.

    Raises:
        UserInputError: the scenario already replays a recording, or ``out`` holds
            something else than a recording.
    """
    from parallel.core.runfolder import RunFolder, git_revision, versions
    from parallel.core.seeds import Stage, stream
    from parallel.traffic.actual.sumo import sumo_version
    from parallel.traffic.actual.sumo_net import SumoNetWorld, read_sumocfg
    from parallel.traffic.network import read_net
    from parallel.traffic.record import refuse_foreign
    from parallel.traffic.timing import incumbent

    if sc.sumo.replay is not None:
        raise UserInputError(
            f"scenario {sc.name!r} already replays the recording {sc.sumo.replay!r}; record "
            "a scenario whose sumo: section has no replay"
        )
    refuse_foreign(out)
    cfg = read_sumocfg(sc.sumocfg)
    net = read_net(cfg.net_file)
    folder = RunFolder(out)
    out.mkdir(parents=True, exist_ok=True)
    interval = sc.observation.interval_s
    with tempfile.TemporaryDirectory(prefix="parallel-record-") as tmp:
        world = SumoNetWorld(
            cfg, interval, sc.observation.probe_share, Path(tmp),
            time_to_teleport_s=sc.sumo.time_to_teleport_s,
        )  # fmt: skip
        obs = world.observe(incumbent(net), stream(sc.seed, Stage.ACTUAL, 0))
    assert obs.probes is not None
    tables = {"vehicles": obs.vehicles, "detectors": obs.detectors, "probes": obs.probes}
    for name, df in tables.items():
        folder.write_text(f"{name}.csv", df.to_csv(index=False))
    prov: dict[str, Any] = {
        "world": "sumo",
        "scenario": sc.name,
        "seed": sc.seed,
        "sumocfg": sc.sumo.config,
        "plan": "the network's own programs",
        "duration_s": cfg.end_s - cfg.begin_s,
        "interval_s": interval,
        "probe_share": sc.observation.probe_share,
        "rows": {k: len(v) for k, v in tables.items()},
        "kpis": obs.kpis,
        "teleports": obs.meta.get("teleports"),
        "sumo_version": sumo_version(),
        "command": argv if argv is not None else sys.argv,
        "git_revision": git_revision(),
        "versions": {k: v for k, v in versions().items() if v},
        "recorded_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }  # fmt: skip
    folder.write_json("provenance.json", prov)
    return prov
