"""Shared fixtures: tiny scenarios and a CLI runner (cleanrl-style subprocess smoke tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from parallel.traffic.scenario import Scenario, load
from parallel.traffic.world import Params, WorldSpec

ROOT = Path(__file__).resolve().parents[1]

TINY = {
    "name": "tiny",
    "seed": 5,
    "network": {"intersections": 1},
    "demand": {"duration_s": 900, "warmup_s": 120},
    "control": {"initial": {"cycle_s": 80, "splits": [0.5, 0.5]}},
    "actual": {
        "world": "reference",
        "truth": {"demand": {"W": 800, "E": 400, "N1": 250, "S1": 200}},
    },
    "artificial": {"params": {"saturation_headway_s": 2.2}, "replications": 1},
    "judge": {"detector_interval_s": 300, "c2st": {"permutations": 20}},
    "calibration": {"budget": 6, "replications": 1},
    "experiments": {
        "factors": {"cycle_s": [60, 80], "split_main": [0.5, 0.65]},
        "replications": 2,
        "chunk_size": 1,
    },
    "loop": {"rounds": 2},
    "executor": {"kind": "sequential"},
    "report": {"plots": False},
}


def write_scenario(folder: Path, data: dict, name: str = "tiny.yaml") -> Path:
    p = folder / name
    p.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return p


def replay_of(data: dict, rec: str) -> dict:
    """``data`` turned into a replay scenario of the recording in folder ``rec``."""
    import copy

    out = copy.deepcopy(data)
    out["network"] = {"kind": "file", "file": f"{rec}/network.json"}
    out["actual"] = {
        "world": "replay",
        "vehicles": f"{rec}/vehicles.csv",
        "detectors": f"{rec}/detectors.csv",
    }
    return out


@pytest.fixture
def tiny_path(tmp_path: Path) -> Path:
    return write_scenario(tmp_path, TINY)


@pytest.fixture
def tiny(tiny_path: Path) -> Scenario:
    return load(tiny_path)


@pytest.fixture
def tiny_spec(tiny: Scenario) -> WorldSpec:
    return WorldSpec.of(tiny)


@pytest.fixture
def tiny_params() -> Params:
    return Params({"W": 800, "E": 400, "N1": 250, "S1": 200}, 2.0, 48.0, 6.0)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def run_cli(*args: str, cwd: Path | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``parallel ARGS`` in a subprocess, as a user would."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", COLUMNS="120")
    return subprocess.run(
        [sys.executable, "-m", "parallel.cli", *args],
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
