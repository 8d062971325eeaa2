"""The artificial side never reads the reference world's hidden truth."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import numpy as np

from parallel.traffic.artificial.model import simulate
from parallel.traffic.calibrate import calibrate
from parallel.traffic.scenario import load
from parallel.traffic.world import Params, WorldSpec
from tests.conftest import ROOT, TINY, write_scenario

# the whole artificial world's folder, plus the shared modules it runs on and the verbs
# that drive it (found by scanning, not listed, so a new module is covered at once)
TRAFFIC = ROOT / "parallel" / "traffic"
SHARED = [
    "topology.py",
    "signals.py",
    "world.py",
    "calibrate.py",
    "experiments.py",
    # real networks: the network model, plans, demand estimation and the city twin
    "network.py",
    "timing.py",
    "demand.py",
    "citytwin.py",
]
ARTIFICIAL_MODULES = sorted(
    [p.relative_to(ROOT / "parallel").as_posix() for p in (TRAFFIC / "artificial").rglob("*.py")]
    + [f"traffic/{name}" for name in SHARED if (TRAFFIC / name).exists()]
)


def test_worldspec_carries_no_truth(tiny) -> None:  # type: ignore[no-untyped-def]
    spec = WorldSpec.of(tiny)
    names = {f.name for f in dataclasses.fields(spec)}
    assert "truth" not in names and "actual" not in names
    assert "truth" not in repr(spec)


def test_artificial_modules_never_mention_truth() -> None:
    assert "traffic/artificial/model.py" in ARTIFICIAL_MODULES
    for rel in ARTIFICIAL_MODULES:
        tree = ast.parse((ROOT / "parallel" / rel).read_text())
        attrs = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        assert "truth" not in attrs | names, rel


def test_the_city_twin_never_reads_the_trip_file() -> None:
    """A city's trip file (in the .sumocfg's route-files) is the actual world's truth."""
    assert "traffic/citytwin.py" in ARTIFICIAL_MODULES
    hidden = {"route_files", "sumocfg", "check_trips", "read_sumocfg", "SumoNetWorld"}
    for rel in ARTIFICIAL_MODULES:
        tree = ast.parse((ROOT / "parallel" / rel).read_text())
        attrs = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        imported = {
            a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names
        }
        assert not hidden & (attrs | names | imported), (rel, hidden & (attrs | names | imported))


def test_changing_the_truth_changes_nothing_on_the_artificial_side(tmp_path: Path) -> None:
    import copy

    a = load(write_scenario(tmp_path, TINY, "a.yaml"))
    other = copy.deepcopy(TINY)
    other["actual"]["truth"]["demand"] = {"W": 50, "E": 60, "N1": 70, "S1": 80}
    other["actual"]["truth"]["speed"] = {"mean_kmh": 90, "sd_kmh": 1}
    b = load(write_scenario(tmp_path, other, "b.yaml"))
    assert a.actual.truth != b.actual.truth
    # the same observed data, given to both artificial sides
    prior = Params({"W": 700, "E": 300, "N1": 200, "S1": 150}, 2.1, 45.0, 7.0)
    spec_a, spec_b = WorldSpec.of(a), WorldSpec.of(b)
    assert spec_a == spec_b
    observed = simulate(
        spec_a, prior.with_flat({"demand.W": 900}), a.control.initial, np.random.SeedSequence(9)
    )
    fa, ra = calibrate(
        spec_a, prior, [(a.control.initial, observed)], a.calibration, a.judge, a.seed
    )
    fb, rb = calibrate(
        spec_b, prior, [(b.control.initial, observed)], b.calibration, b.judge, b.seed
    )
    assert fa == fb and ra.trace == rb.trace
