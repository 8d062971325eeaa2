"""SUMO under a controller that decides while it runs: max-pressure through libsumo.

    python -m parallel.traffic.actual.sumo_control JOB.json

libsumo runs one simulation per process, so every such run is its own process. The job
holds SUMO's command line (the same one a plain run uses: same outputs, 1 s step) and,
per traffic light, the program's phase states and each green phase's incoming and
outgoing lanes. The worker steps SUMO second by second and, whenever a light's
controller asks, reads the halting vehicles on those lanes and sets the state that
:class:`parallel.traffic.control.MaxPressure` returns: the same rule the artificial world
runs on its queues.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from parallel.traffic.control import MaxPressure
from parallel.traffic.network import RoadNet
from parallel.traffic.timing import TimingPlan


def job(net: RoadNet, plan: TimingPlan, cmd: list[str], end_s: float) -> dict[str, Any]:
    """The job file's content for ``plan`` on ``net`` (SUMO lane ids as lane keys)."""
    edges = net.edges

    def lane(x: tuple[int, int]) -> str:
        return f"{edges[x[0]].id}_{x[1]}"

    lights = {}
    for tls in sorted(plan.programs):
        ctl = MaxPressure.for_tls(net, tls, plan.settings, lane)
        lights[tls] = {"states": ctl.states, "groups": ctl.groups}
    return {"cmd": cmd, "end": end_s, "settings": plan.settings, "lights": lights}


def run(spec: dict[str, Any]) -> None:
    import libsumo

    st = spec["settings"]
    ctls = {
        tls: MaxPressure(
            d["states"],
            [(int(k), [(list(i), list(o)) for i, o in movs]) for k, movs in d["groups"]],
            st,
        )
        for tls, d in spec["lights"].items()
    }
    libsumo.start(spec["cmd"])
    halting = libsumo.lane.getLastStepHaltingNumber
    tl = libsumo.trafficlight
    due: dict[str, float] = {}
    try:
        now = libsumo.simulation.getTime()
        for tls, ctl in ctls.items():
            state, wait = ctl.start()
            tl.setRedYellowGreenState(tls, state)
            due[tls] = now + wait
        end = float(spec["end"])
        while now < end - 1e-9:
            libsumo.simulationStep()
            now = libsumo.simulation.getTime()
            for tls, ctl in ctls.items():
                if now >= due[tls] - 1e-9:
                    state, wait = ctl.step(halting)
                    tl.setRedYellowGreenState(tls, state)
                    due[tls] = now + wait
    finally:
        libsumo.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    run(json.loads(Path(args[0]).read_text()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
