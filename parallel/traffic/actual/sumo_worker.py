"""One SUMO simulation in its own process (libsumo runs one simulation per process).

    python -m parallel.traffic.actual.sumo_worker JOB.json

The job names the network, routes and additional files, the horizon and the outputs. The
worker steps libsumo to the end, records the largest halting queue per approach edge per
interval, counts teleports, and writes ``queues.json``; SUMO itself writes tripinfo and
edgeData. It imports neither pandas nor pyarrow (libsumo links its own Arrow).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def run(job: dict) -> dict:
    import libsumo

    args = [
        job["binary"],
        "-n",
        job["net"],
        "-r",
        job["routes"],
        "-a",
        job["additional"],
        "--begin",
        "0",
        "--end",
        str(job["end"]),
        "--step-length",
        str(job["step"]),
        "--seed",
        str(job["seed"]),
        "--tripinfo-output",
        job["tripinfo"],
        "--no-step-log",
        "true",
        "--no-warnings",
        "true",
        "--duration-log.disable",
        "true",
        "--time-to-teleport",
        str(job.get("time_to_teleport", 300)),
    ]
    import time

    t_start = time.perf_counter()
    libsumo.start(args)
    edges: list[str] = job["queue_edges"]
    t0, dt, n_int = job["t0"], job["interval"], job["n_intervals"]
    qmax = [[0] * n_int for _ in edges]
    teleports = 0
    step = job["step"]
    n_steps = int(round(job["end"] / step))
    try:
        for _ in range(n_steps):
            libsumo.simulationStep()
            t = libsumo.simulation.getTime()
            teleports += libsumo.simulation.getStartingTeleportNumber()
            if t < t0:
                continue
            k = min(int((t - t0) // dt), n_int - 1)
            if k < 0 or t >= t0 + dt * n_int:
                continue
            for i, e in enumerate(edges):
                h = libsumo.edge.getLastStepHaltingNumber(e)
                if h > qmax[i][k]:
                    qmax[i][k] = h
    finally:
        libsumo.close()
    out = {
        "queues": dict(zip(edges, qmax)),
        "teleports": teleports,
        "sim_wall_s": time.perf_counter() - t_start,
    }
    Path(job["queues_out"]).write_text(json.dumps(out))
    return out


def main() -> int:
    job = json.loads(Path(sys.argv[1]).read_text())
    run(job)
    return 0


if __name__ == "__main__":
    sys.exit(main())
