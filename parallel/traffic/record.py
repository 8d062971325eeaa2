"""``parallel record``: observe a scenario's actual world once and write the observation.

The output folder holds what a replay scenario needs: ``vehicles.csv`` and
``detectors.csv`` in the Observation schema, ``network.json`` (the networkx graph the
artificial world runs on, so replaying needs no SUMO) and ``provenance.json`` (world,
versions, network, seed, plan and the command).
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from parallel.core.errors import UserInputError
from parallel.core.runfolder import RunFolder, git_revision, versions
from parallel.core.seeds import Stage, stream
from parallel.traffic.actual import make_actual
from parallel.traffic.scenario import Scenario, resolved_yaml
from parallel.traffic.topology import graph_to_json


def refuse_foreign(out: Path) -> None:
    """Refuse an ``--out`` folder that holds files but no earlier recording.

    Raises:
        UserInputError: naming the folder and the fix.
    """
    from parallel.core.outdir import OURS

    theirs = [p for p in out.iterdir() if p.name not in OURS] if out.is_dir() else []
    if theirs and not (out / "provenance.json").is_file():
        raise UserInputError(
            f"--out {out}: the folder is not empty and holds no earlier recording; "
            "give an empty or new folder"
        )


def record(sc: Scenario, out: Path, argv: list[str] | None = None) -> dict[str, Any]:
    """Observe ``sc``'s actual world under ``control.initial`` and write it to ``out``.

    Raises:
        UserInputError: the world cannot be recorded (a replay world) or ``out`` holds
            something else than a recording.
    """
    if sc.actual.world == "replay":
        raise UserInputError(
            "a replay world is already a recording; record a reference or sumo world"
        )
    refuse_foreign(out)
    folder = RunFolder(out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="parallel-record-") as tmp:
        world = make_actual(sc, Path(tmp))
        topo = getattr(world, "topo", None)
        obs = world.observe(sc.control.initial, stream(sc.seed, Stage.ACTUAL, 0))
    folder.write_text("vehicles.csv", obs.vehicles.to_csv(index=False))
    folder.write_text("detectors.csv", obs.detectors.to_csv(index=False))
    if topo is not None:
        folder.write_text("network.json", json.dumps(graph_to_json(topo.graph), indent=1))
    prov: dict[str, Any] = {
        "world": sc.actual.world,
        "scenario": sc.name,
        "seed": sc.seed,
        "plan": sc.control.initial.model_dump(mode="json"),
        "network": sc.network.model_dump(mode="json"),
        "duration_s": sc.demand.duration_s,
        "warmup_s": sc.demand.warmup_s,
        "detector_interval_s": sc.judge.detector_interval_s,
        "rows": {"vehicles": len(obs.vehicles), "detectors": len(obs.detectors)},
        "kpis": obs.kpis,
        "command": argv if argv is not None else sys.argv,
        "git_revision": git_revision(),
        "versions": {k: v for k, v in versions().items() if v},
        "recorded_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "scenario_resolved": resolved_yaml(sc),
    }
    if sc.actual.world == "sumo":
        from parallel.traffic.actual.sumo import sumo_version

        prov["sumo_version"] = sumo_version()
        prov["teleports"] = obs.meta.get("teleports")
    folder.write_json("provenance.json", prov)
    return prov
