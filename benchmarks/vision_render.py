"""`parallel generate vision` throughput: 10,000 labelled 128 px frames from the
intersection scenario, per view and with or without appearance randomisation.

Runs the CLI command in a fresh process (start-up, simulation, rendering, PNG encoding,
COCO and Parquet writing included) and reads its peak RSS from the kernel.

    python -m benchmarks.vision_render [--frames 10000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import write_result

CASES = {
    "bev": ["--view", "bev"],
    "bev_randomized": ["--view", "bev", "--randomize", "all"],
    "camera": ["--view", "camera"],
    "camera_randomized": ["--view", "camera", "--randomize", "all"],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=10_000)
    ap.add_argument("--scenario", default="scenarios/intersection_quick.yaml")
    args = ap.parse_args()
    out: dict = {"frames": args.frames, "scenario": args.scenario, "size": 128, "cases": {}}
    for name, extra in CASES.items():
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [
                sys.executable,
                "-m",
                "parallel.cli",
                "generate",
                "vision",
                "--from",
                args.scenario,
                "--frames",
                str(args.frames),
                "--out",
                f"{tmp}/ds",
                *extra,
            ]
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t0
            assert os.waitstatus_to_exitcode(status) == 0, proc.stderr.read() if proc.stderr else ""
            size = sum(p.stat().st_size for p in Path(tmp, "ds").rglob("*") if p.is_file())
        out["cases"][name] = {
            "command": " ".join(cmd[1:]).replace(tmp, "$TMP"),
            "wall_s": wall,
            "frames_per_s": args.frames / wall,
            "peak_rss_mib": usage.ru_maxrss / 1024,
            "bytes": size,
        }
        print(name, f"{args.frames / wall:.0f} frames/s", flush=True)
    out["target"] = ">= 200 frames/s on 2 cores, bounded memory"
    write_result("vision_render", out)


if __name__ == "__main__":
    main()
