"""Scenario loading: the shipped files validate; every bad input exits 2 with a clear paragraph."""

from __future__ import annotations

from pathlib import Path

import pytest

from parallel.core.errors import ScenarioError
from parallel.traffic.scenario import load
from tests.conftest import ROOT, TINY, run_cli, write_scenario

SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_scenarios_validate(path: Path) -> None:
    from parallel.scenarios import load_any

    sc = load_any(path)
    assert sc.name == path.stem


def _mutate(**changes: object) -> dict:
    import copy

    data = copy.deepcopy(TINY)
    for dotted, value in changes.items():
        cur = data
        parts = dotted.split("__")
        for p in parts[:-1]:
            cur = cur[p]
        cur[parts[-1]] = value
    return data


BAD = {
    "unknown_key": ("network:\n  intersections: 1\n  lanez: 2\n", "network.lanez", "allowed keys"),
    "wrong_type": ("demand:\n  duration_s: long\n", "demand.duration_s", "valid number"),
    "negative_rate": (
        "actual:\n  world: reference\n  truth:\n    demand: {W: -5, E: 1, N1: 1, S1: 1}\n",
        "actual.truth.demand.W",
        "greater than 0",
    ),
    "zero_rate": (
        "actual:\n  world: reference\n  truth:\n    demand: {W: 0, E: 1, N1: 1, S1: 1}\n",
        "actual.truth.demand.W",
        "greater than 0",
    ),
    "splits_do_not_fit": (
        "control:\n  initial: {cycle_s: 30, splits: [0.9, 0.1]}\n",
        "control.initial.splits",
        "do not fit the cycle",
    ),
    "unknown_world": ("actual:\n  world: simulated\n", "actual.world", "reference, replay"),
    "unknown_executor": (
        "executor:\n  kind: spark\n",
        "executor.kind",
        "'sequential', 'process' or 'dask'",
    ),
    "missing_data": (
        "actual:\n  world: replay\n  vehicles: nope.csv\n  detectors: nope.csv\n",
        "actual.vehicles",
        "not found",
    ),
    "escaping_path": (
        "report:\n  export: ../../outside\n",
        "report.export",
        "escapes the run folder",
    ),
}


def _bad_file(tmp_path: Path, body: str) -> Path:
    base = "name: bad\n"
    if not body.startswith("actual:"):
        base += "actual:\n  world: reference\n  truth:\n    demand: {W: 1, E: 1, N1: 1, S1: 1}\n"
    p = tmp_path / "bad.yaml"
    p.write_text(base + body, encoding="utf-8")
    return p


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_names_file_line_and_field(tmp_path: Path, case: str) -> None:
    body, field, allowed = BAD[case]
    path = _bad_file(tmp_path, body)
    with pytest.raises(
        ScenarioError, match=allowed.replace("(", r"\(").replace(")", r"\)")
    ) as info:
        load(path)
    err = info.value
    assert err.file == str(path)
    assert err.field == field
    assert isinstance(err.line, int) and err.line >= 2
    lines = path.read_text().splitlines()
    assert field.split(".")[-1] in lines[err.line - 1]


@pytest.mark.parametrize(
    "text,match",
    [
        ("", "empty"),
        ("name: x\nactual: {world: reference\n  truth: 3\n", "malformed YAML"),
        ("- a\n- b\n", "must be a YAML mapping"),
    ],
)
def test_unparseable_files(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(text)
    with pytest.raises(ScenarioError, match=match) as info:
        load(p)
    assert info.value.line is not None


def test_cli_bad_inputs_exit_2_without_traceback(tmp_path: Path) -> None:
    for case in ("unknown_key", "splits_do_not_fit", "unknown_world"):
        path = _bad_file(tmp_path, BAD[case][0])
        res = run_cli("validate", str(path))
        assert res.returncode == 2, res.stderr
        assert "Traceback" not in res.stderr + res.stdout
        assert str(path) in res.stderr and BAD[case][1] in res.stderr
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    res = run_cli("run", str(empty))
    assert res.returncode == 2 and "empty" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("validate", str(tmp_path / "missing.yaml"))
    assert res.returncode == 2 and "not found" in res.stderr


def test_unknown_executor_on_the_command_line_lists_choices(tiny_path: Path) -> None:
    res = run_cli("run", str(tiny_path), "--executor", "spark")
    assert res.returncode == 2
    assert "sequential" in res.stderr and "dask" in res.stderr


def test_overrides_and_origins(tmp_path: Path) -> None:
    data = _mutate(actual__truth__demand={"W": 1, "E": 1, "N1": 1, "S9": 1})
    with pytest.raises(ScenarioError, match="unknown origin 'S9'"):
        load(write_scenario(tmp_path, data))
    sc = load(write_scenario(tmp_path, TINY), {"seed": 99, "loop.rounds": 4})
    assert sc.seed == 99 and sc.loop.rounds == 4


def test_design_cell_that_does_not_fit(tmp_path: Path) -> None:
    data = _mutate(experiments__factors={"cycle_s": [20], "split_main": [0.5]})
    with pytest.raises(ScenarioError, match="design cell"):
        load(write_scenario(tmp_path, data))
