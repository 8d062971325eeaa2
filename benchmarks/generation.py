"""Big synthetic data: 10 million rows to Parquet with `parallel generate table`.

Trains the default table generator on 20k vehicle records, then times the CLI command
end to end (a fresh process: Python and torch start-up included) and reads its peak RSS
from the kernel (``wait4``). Also reports the in-process generation rate (the pipeline
alone, start-up excluded) and checks the manifest.

    python -m benchmarks.generation [--rows 10000000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._common import write_result
from parallel.data.generate import generate_table
from parallel.data.shards import verify
from parallel.gan.synth import TABLE_DEFAULTS, TableSampler, fit_table
from parallel.gan.toy import vehicle_table
from parallel.gan.train import TrainConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=10_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        gen = Path(tmp) / "gen"
        fit_table(
            vehicle_table(20_000, np.random.default_rng(0)),
            gen,
            TrainConfig(**TABLE_DEFAULTS),
            device="cpu",
        )
        out = Path(tmp) / "ds"
        cmd = [
            sys.executable,
            "-m",
            "parallel.cli",
            "generate",
            "table",
            "--from",
            str(gen),
            "--rows",
            str(args.rows),
            "--out",
            str(out),
        ]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        assert os.waitstatus_to_exitcode(status) == 0, proc.stderr.read() if proc.stderr else ""
        manifest = json.loads((out / "manifest.json").read_text())
        problems = verify(out)
        size = sum(p.stat().st_size for p in (out / "data").iterdir())
        # the same pipeline in this process (start-up excluded)
        n_in = min(args.rows, 3_000_000)
        t0 = time.perf_counter()
        generate_table(
            source=gen, rows=n_in, out=Path(tmp) / "ds2", seed=0, shard_rows=1_000_000, device="cpu"
        )
        inproc = n_in / (time.perf_counter() - t0)
        backend = TableSampler(gen).backend
    write_result(
        "generation",
        {
            "rows": args.rows,
            "command": " ".join(cmd[1:]).replace(tmp, "$TMP"),
            "end_to_end_s": wall,
            "end_to_end_rows_per_s": args.rows / wall,
            "peak_rss_mib": usage.ru_maxrss / 1024,
            "sampling_backend": backend,
            "in_process_rows_per_s": inproc,
            "in_process_rows": n_in,
            "shards": len(manifest["shards"]),
            "bytes": size,
            "manifest_complete": manifest["complete"],
            "verify_problems": problems,
            "targets": {"rows_per_s": ">= 1,000,000", "peak_rss": "<= 1 GiB"},
        },
    )


if __name__ == "__main__":
    main()
