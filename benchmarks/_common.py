"""Helpers shared by the benchmarks: machine facts and JSON results."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from parallel.core.runfolder import atomic_write, dumps, git_revision, versions

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def write_result(name: str, result: dict[str, Any]) -> Path:
    """Write ``benchmarks/results/<name>.json`` atomically and print it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "when_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "git_revision": git_revision(),
        "machine": machine(),
        "versions": {k: v for k, v in versions().items() if v},
        **result,
    }
    path = RESULTS / f"{name}.json"
    atomic_write(path, dumps(payload) + "\n")
    print(json.dumps(json.loads(path.read_text()), indent=2))
    return path
