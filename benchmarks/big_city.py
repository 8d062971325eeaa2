"""A larger city: `parallel fidelity` on a 144-signal grid whose trips start anywhere.

RESCO's networks have 1-8 signals and trips that mostly enter at the fringe. A user's
city can be far larger, with trips that start and end all over it. This builds one with
SUMO's own tools, as such a user would, and judges the twin on it beside SUMO micro and
MESO in the same run:

- ``netgenerate --grid --grid.number 12 --grid.length 150 --grid.attach-length 100
  --default.lanenumber 2 --tls.guess true``: 624 edges, 144 traffic lights;
- ``randomTrips.py -e 3600 -p 0.6 --seed 3 --fringe-factor 10``: about 6,000 trips;
- ``scenarios/cologne3.yaml`` (the scenario nothing was tuned on) with ``sumo.config``
  pointed at the generated ``.sumocfg`` and nothing else changed.

Usage::

    python -m benchmarks.big_city [--size 12] [--plans 10] [--reps 3] [--workers 2]
                                  [--seed S] [--export DIR]

``--export DIR`` only writes the city (network, trips, ``.sumocfg`` and the scenario) to
DIR, for ``parallel fidelity DIR/big_city.yaml`` or ``parallel run DIR/big_city.yaml``.
Writes ``benchmarks/results/big_city.json`` (about 9 min for 10 plans x 3 here).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks._common import write_result
from benchmarks.fidelity import TARGETS, verdict
from parallel.core.executors import make_executor
from parallel.traffic.actual.sumo import binary
from parallel.traffic.city import load_city
from parallel.traffic.fidelity import run_fidelity

ROOT = Path(__file__).resolve().parent.parent
#: randomTrips' seed: the city's demand, fixed so that every run judges the same city
TRIPS_SEED = 3


def _random_trips() -> Path:
    """SUMO's ``tools/randomTrips.py``, from SUMO_HOME or the eclipse-sumo wheel."""
    home = os.environ.get("SUMO_HOME")
    if not home:
        import sumo  # the eclipse-sumo wheel

        home = sumo.SUMO_HOME
    path = Path(home) / "tools" / "randomTrips.py"
    if not path.is_file():
        sys.exit(f"error: {path} not found; install eclipse-sumo (pip install eclipse-sumo)")
    return path


def build(out: Path, size: int) -> Path:
    """Write the city to ``out`` (a new or empty folder); returns its scenario file.

    SUMO's tools run inside ``out``: randomTrips validates its trips with duarouter,
    which writes ``routes.rou.xml`` into its working folder, and nothing may land in the
    user's own folders."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        sys.stderr.write(f"error: --export {out}: give a new or empty folder\n")
        sys.exit(2)
    out.mkdir(parents=True, exist_ok=True)
    out = out.resolve()
    net, trips = out / "big_city.net.xml", out / "big_city.trips.xml"
    subprocess.run(
        [binary("netgenerate"), "--grid", "--grid.number", str(size), "--grid.length", "150",
         "--grid.attach-length", "100", "--default.lanenumber", "2", "--tls.guess", "true",
         "--output-file", str(net), "--no-warnings"],
        check=True, capture_output=True, cwd=out,
    )  # fmt: skip
    tool = _random_trips()
    env = {**os.environ, "SUMO_HOME": str(tool.parent.parent)}
    subprocess.run(
        [sys.executable, str(tool), "-n", str(net), "-o", str(trips), "-e", "3600",
         "-p", "0.6", "--seed", str(TRIPS_SEED), "--fringe-factor", "10"],
        check=True, capture_output=True, env=env, cwd=out,
    )  # fmt: skip
    (out / "big_city.sumocfg").write_text(
        "<configuration>\n  <input>\n"
        f'    <net-file value="{net.name}"/>\n    <route-files value="{trips.name}"/>\n'
        '  </input>\n  <time>\n    <begin value="0"/>\n    <end value="3600"/>\n'
        "  </time>\n</configuration>\n"
    )
    sc = yaml.safe_load((ROOT / "scenarios" / "cologne3.yaml").read_text())
    sc["name"] = "big_city"
    sc["description"] = (
        f"A {size}x{size} signalised grid (netgenerate) with randomTrips demand that starts "
        "and ends anywhere: scenarios/cologne3.yaml with the network swapped."
    )
    sc["sumo"]["config"] = "big_city.sumocfg"
    path = out / "big_city.yaml"
    path.write_text(yaml.safe_dump(sc, sort_keys=False))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=12, help="signals per side of the grid")
    ap.add_argument("--plans", type=int, default=10)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, help="override the scenario's seed (SUMO, twin, judge)")
    ap.add_argument("--export", type=Path, help="only write the city's files to this folder")
    args = ap.parse_args()
    if args.export is not None:
        print(build(args.export, args.size))
        return
    overrides: dict[str, Any] = {} if args.seed is None else {"seed": args.seed}
    with tempfile.TemporaryDirectory(prefix="big-city-") as tmp:
        t0 = time.perf_counter()
        sc = load_city(build(Path(tmp) / "city", args.size), overrides)
        built = time.perf_counter() - t0
        ex = make_executor("process", args.workers)
        try:
            r, _ = run_fidelity(sc, Path(tmp) / "out", ex, args.plans, args.reps)
        finally:
            ex.close()
    r["wall_s_total"] = time.perf_counter() - t0
    result = {
        "targets": TARGETS,
        "city": {"size": args.size, "signals": args.size**2, "trips_seed": TRIPS_SEED,
                 "build_s": built},
        "networks": {sc.name: {"verdict": verdict(r), "fidelity": r}},
    }  # fmt: skip
    write_result("big_city", result)


if __name__ == "__main__":
    main()
