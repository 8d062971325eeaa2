"""Process-executor speed-up over sequential for an experiment of at least 64 replications.

python -m benchmarks.executor_speedup [--scenario scenarios/intersection.yaml] [--reps 64] [--workers N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks._common import write_result
from parallel.core.executors import make_executor
from parallel.traffic.experiments import run_design
from parallel.traffic.scenario import ReferenceWorld as ReferenceCfg
from parallel.traffic.scenario import load, plan_from_factors
from parallel.traffic.world import Params, WorldSpec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenario", default="scenarios/intersection.yaml")
    ap.add_argument("--reps", type=int, default=64)
    ap.add_argument("--cells", type=int, default=2)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    sc = load(args.scenario)
    assert isinstance(sc.actual, ReferenceCfg)
    spec = WorldSpec.of(sc)
    t = sc.actual.truth
    params = Params(dict(t.demand), 2.0, t.speed.mean_kmh, t.speed.sd_kmh)
    plans = [
        plan_from_factors(sc.control.initial, {"split_main": s})
        for s in np.linspace(0.5, 0.7, args.cells)
    ]
    timings, tables = {}, {}
    for kind in ("sequential", "process"):
        ex = make_executor(kind, args.workers)
        t0 = time.perf_counter()
        tables[kind] = run_design(
            spec, params, plans, args.reps, sc.seed, 0, ex, sc.experiments.chunk_size
        )
        timings[kind] = time.perf_counter() - t0
        workers = ex.workers
        ex.close()
    identical = tables["sequential"].equals(tables["process"])
    write_result(
        "executor_speedup",
        {
            "scenario": sc.name,
            "replications": args.reps * len(plans),
            "cells": len(plans),
            "chunk_size": sc.experiments.chunk_size,
            "sequential_s": timings["sequential"],
            "process_s": timings["process"],
            "process_workers": workers,
            "speedup": timings["sequential"] / timings["process"],
            "identical_results": bool(identical),
        },
    )


if __name__ == "__main__":
    main()
