"""Eclipse SUMO on a real scenario: its own trip file, any signal plan, run as a user runs it.

The world runs the ``sumo`` binary on the scenario's network and trip file (the hidden
truth) in the ``.sumocfg``'s time window, with the plan's programs in an additional file,
at SUMO's default 1 s step and with only the outputs an observation needs: ``edgeData``
(counts, speeds and waiting time per edge and interval), ``tripinfo`` (vehicle records)
and ``vehroute`` (each vehicle's driven route: the probe sample's routes, and the
free-flow time a record's delay is measured from). With ``meso=True`` the same run uses
SUMO's mesoscopic model (``--mesosim --meso-junction-control``): the peer baseline.

Times in the Observation run from 0 at the window's begin.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from parallel.core.errors import RunError, UserInputError
from parallel.traffic.actual.sumo import binary, fixed_layout, worker_env
from parallel.traffic.control import check_control
from parallel.traffic.network import RoadNet, check_safe_xml, read_net
from parallel.traffic.observation import (
    VEHICLE_SCHEMA,
    Observation,
    compute_kpis,
    detector_table,
)
from parallel.traffic.timing import TimingPlan, tls_xml


@dataclass(frozen=True)
class SumoConfig:
    """What a ``.sumocfg`` says: network, trips and the time window."""

    net_file: Path
    route_files: tuple[Path, ...]
    begin_s: float
    end_s: float


def read_sumocfg(path: Path) -> SumoConfig:
    """Read a ``.sumocfg`` (without entity expansion).

    Raises:
        UserInputError: the file is missing, unsafe, or lacks net-file/route-files/begin/end.
    """
    import defusedxml.ElementTree as DET

    if not path.is_file():
        raise UserInputError(f"{path}: SUMO configuration not found")
    check_safe_xml(path)
    root = DET.parse(str(path), forbid_entities=True).getroot()

    def value(tag: str) -> str:
        el = root.find(f".//{tag}")
        if el is None or not el.get("value"):
            raise UserInputError(
                f"{path}: <{tag} value=...> is missing; a scenario's .sumocfg must name "
                "net-file, route-files, begin and end"
            )
        return str(el.get("value"))

    base = path.parent
    routes = tuple((base / r.strip()).resolve() for r in value("route-files").split(","))
    net = (base / value("net-file")).resolve()
    for f in (net, *routes):
        if not f.is_file():
            raise UserInputError(f"{path}: file {f} named there is not found")
    return SumoConfig(net, routes, float(value("begin")), float(value("end")))


def check_trips(net: RoadNet, trips: Path) -> int:
    """Check that every trip and route names edges of the network; returns the count.

    Raises:
        UserInputError: naming the file, the trip and the missing edge.
    """
    import defusedxml.ElementTree as DET

    check_safe_xml(trips)
    n = 0
    ids: set[str] = set()
    for _, el in DET.iterparse(str(trips), forbid_entities=True):
        if el.tag in ("trip", "flow", "vehicle"):
            n += 1
            _check_trip(trips, el, ids)
            # from and to name one edge each, via a space-separated list of them
            for attr in ("from", "to", "via"):
                for e in (el.get(attr) or "").split():
                    if e not in net.edge_index:
                        raise UserInputError(
                            f"{trips}: {el.tag} {el.get('id')!r}: {attr}={e!r} is not an edge "
                            f"of {net.file}; fix the trip or give the network it was made for"
                        )
        if el.tag == "route":
            for e in (el.get("edges") or "").split():
                if e not in net.edge_index:
                    rid = el.get("id")
                    which = f"route {rid!r}" if rid else "a route"
                    raise UserInputError(
                        f"{trips}: {which} names edge {e!r}, which is not in {net.file}; fix "
                        "the route or give the network it was made for"
                    )
    return n


def _check_trip(trips: Path, el: Any, ids: set[str]) -> None:
    """What SUMO would stop on, found before any run: a repeated id, a negative departure."""
    vid = el.get("id")
    if vid in ids:
        raise UserInputError(
            f"{trips}: {el.tag} id {vid!r} is used twice; SUMO needs each vehicle's id to "
            "be unique: rename one"
        )
    ids.add(vid)
    depart = el.get("depart") if el.tag != "flow" else el.get("begin")
    try:  # SUMO also takes words ("triggered") and hh:mm:ss; those it checks itself
        negative = depart is not None and float(depart) < 0
    except ValueError:
        negative = False
    if negative:
        what = "depart" if el.tag != "flow" else "begin"
        raise UserInputError(
            f"{trips}: {el.tag} {vid!r}: {what}={depart!r} is negative; give a time >= 0 s"
        )


class SumoNetWorld:
    """A real SUMO scenario under a :class:`TimingPlan`, observed like every other world."""

    name = "sumo"
    actionable = True

    def __init__(
        self,
        cfg: SumoConfig,
        interval_s: float,
        probe_share: float,
        work_dir: Path,
        meso: bool = False,
        time_to_teleport_s: float = 300.0,
        check: bool = True,
        net: RoadNet | None = None,
    ) -> None:
        """``check=False`` skips checking the trip files (a second world on checked files);
        ``net`` is the network model whose programs plans are written on (default: the
        configuration's network file)."""
        self.cfg, self.interval, self.probe_share = cfg, interval_s, probe_share
        self.meso, self.ttt = meso, time_to_teleport_s
        self.net = net or read_net(cfg.net_file)
        for r in cfg.route_files if check else ():
            check_trips(self.net, r)
        self.work = work_dir
        self.work.mkdir(parents=True, exist_ok=True)
        self._runs = 0

    @property
    def duration_s(self) -> float:
        return self.cfg.end_s - self.cfg.begin_s

    def observe(
        self, plan: TimingPlan, seed: np.random.SeedSequence, run_dir: Path | None = None
    ) -> Observation:
        """Run SUMO once under ``plan`` (in ``run_dir``, or a new numbered folder).

        Raises:
            ControlError: the control would deadlock a junction (checked before SUMO runs).
        """
        check_control(self.net, plan)
        self._runs += 1
        run = run_dir or self.work / f"{'meso' if self.meso else 'sumo'}{self._runs:03d}"
        run.mkdir(parents=True, exist_ok=True)
        c = self.cfg
        n_int = max(int(np.ceil(self.duration_s / self.interval - 1e-9)), 1)
        (run / "plan.add.xml").write_text(
            "<additional>\n"
            + tls_xml(self.net, plan)
            + f'  <edgeData id="obs" period="{self.interval}" begin="{c.begin_s}" '
            f'end="{c.begin_s + n_int * self.interval}" file="edgedata.xml" '
            'excludeEmpty="false"/>\n</additional>\n'
        )
        # SUMO runs inside the run folder, so a path relative to the user's folder (an
        # ``--out`` given as ``out``) would name nothing there: hand it absolute paths
        cmd = [
            binary("sumo"),
            "-n", str(Path(c.net_file).resolve()),
            "-r", ",".join(str(Path(r).resolve()) for r in c.route_files),
            "-a", "plan.add.xml",
            "--begin", str(c.begin_s),
            "--end", str(c.end_s),
            "--seed", str(int(seed.generate_state(1)[0] % 2**31)),
            "--tripinfo-output", "tripinfo.xml",
            "--vehroute-output", "vehroutes.xml",
            "--statistic-output", "statistics.xml",
            "--time-to-teleport", str(self.ttt),
            "--no-step-log", "true",
            "--no-warnings", "true",
            "--duration-log.disable", "true",
        ]  # fmt: skip
        if self.meso:
            cmd += ["--mesosim", "true", "--meso-junction-control", "true"]
        if plan.policy == "max_pressure":  # decided while it runs: libsumo in its own process
            from parallel.traffic.actual.sumo_control import job

            (run / "control.json").write_text(json.dumps(job(self.net, plan, cmd, c.end_s)))
            cmd = [sys.executable, "-m", "parallel.traffic.actual.sumo_control", "control.json"]
        t0 = time.perf_counter()
        res = subprocess.run(
            fixed_layout(cmd), cwd=run, capture_output=True, text=True, check=False,
            env=worker_env(),
        )  # fmt: skip
        wall = time.perf_counter() - t0
        if res.returncode != 0 or not (run / "tripinfo.xml").is_file():
            raise RunError(
                f"SUMO failed in {run} (exit {res.returncode}): "
                f"{(res.stderr or res.stdout).strip()[-800:]}"
            )
        obs = self._read(run, n_int, seed)
        obs.meta.update(
            world="sumo-meso" if self.meso else "sumo",
            plan=plan.label,
            sim_wall_s=wall,
            sumo_dir=str(run),
        )
        return obs

    def _read(self, run: Path, n_int: int, seed: np.random.SeedSequence) -> Observation:
        import defusedxml.ElementTree as DET

        begin = self.cfg.begin_s
        routes = read_vehroutes(run / "vehroutes.xml")
        rows, probe_rows = [], []
        keep = _probe_filter(seed, self.probe_share)
        idx = self.net.edge_index
        for _, el in DET.iterparse(str(run / "tripinfo.xml"), forbid_entities=True):
            if el.tag != "tripinfo":
                continue
            vid = str(el.get("id"))
            route = routes.get(vid) or [el.get("departLane", "").rsplit("_", 1)[0]]
            depart = float(el.get("depart", "0")) - begin
            arrival = float(el.get("arrival", "-1")) - begin
            tt = float(el.get("duration", arrival - depart))
            free = self.net.free_time_s([idx[e] for e in route if e in idx])
            rows.append(
                (
                    _vid(vid),
                    route[0],
                    route[-1],
                    depart,
                    arrival,
                    tt,
                    max(tt - free, 0.0),
                    int(el.get("waitingCount", "0")),
                )
            )
            if keep(vid):
                probe_rows.append((vid, depart, " ".join(route)))
            el.clear()
        veh = pd.DataFrame(rows, columns=list(VEHICLE_SCHEMA)).astype(VEHICLE_SCHEMA)
        det = self._detectors(run, n_int)
        obs = Observation(veh, det, compute_kpis(veh, det, self.duration_s), {})
        obs.probes = pd.DataFrame(probe_rows, columns=["vehicle_id", "depart_s", "route"])
        obs.meta["teleports"] = _teleports(run / "statistics.xml")
        return obs

    def _detectors(self, run: Path, n_int: int) -> pd.DataFrame:
        import defusedxml.ElementTree as DET

        names = [e.id for e in self.net.edges]
        idx = self.net.edge_index
        count = np.zeros((len(names), n_int), np.int64)
        speed = np.full((len(names), n_int), np.nan)
        wait = np.zeros((len(names), n_int))
        for _, el in DET.iterparse(str(run / "edgedata.xml"), forbid_entities=True):
            if el.tag != "interval":
                continue
            k = int(round((float(el.get("begin", "0")) - self.cfg.begin_s) / self.interval))
            if not 0 <= k < n_int:
                continue
            for e in el.iter("edge"):
                i = idx.get(str(e.get("id")))
                if i is None:
                    continue
                count[i, k] = int(e.get("left", "0")) + int(e.get("arrived", "0"))
                if e.get("speed") is not None:
                    speed[i, k] = float(e.get("speed", "nan")) * 3.6
                wait[i, k] = float(e.get("waitingTime", "0"))
            el.clear()
        return detector_table(names, count, speed, wait, self.interval)


def read_vehroutes(path: Path) -> dict[str, list[str]]:
    """Each vehicle's driven route (its edges) from SUMO's ``--vehroute-output``.

    A vehicle whose route was replaced (SUMO routes a ``<trip>`` again when it is inserted,
    ``reason="device.rerouting"``) lists every route it had in a ``<routeDistribution>``;
    the last is the one it drove, and SUMO writes it whole, from the edge it departed on.
    """
    import defusedxml.ElementTree as DET

    routes: dict[str, list[str]] = {}
    for _, el in DET.iterparse(str(path), forbid_entities=True):
        if el.tag == "vehicle":
            driven = el.findall(".//route")
            if driven:
                routes[str(el.get("id"))] = (driven[-1].get("edges") or "").split()
            el.clear()
    return routes


def _teleports(path: Path) -> int:
    """Vehicles SUMO teleported (its statistic output), or -1 if the file is missing."""
    import defusedxml.ElementTree as DET

    if not path.is_file():
        return -1
    el = DET.parse(str(path), forbid_entities=True).getroot().find("teleports")
    return int(el.get("total", "0")) if el is not None else 0


def _vid(text: str) -> int:
    """A stable integer id for a SUMO vehicle id."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=7).digest(), "big")


def _probe_filter(seed: np.random.SeedSequence, share: float) -> Callable[[str], bool]:
    """Probes are a seeded hash-sample of vehicle ids: the same vehicles under every plan."""
    salt = int(np.random.SeedSequence(seed.entropy).generate_state(1)[0])
    limit = int(share * 2**32)

    def keep(vid: str) -> bool:
        h = hashlib.blake2b(f"{salt}:{vid}".encode(), digest_size=4).digest()
        return int.from_bytes(h, "big") < limit

    return keep
