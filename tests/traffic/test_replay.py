"""The replay world: observed logs in, schema errors that list what is wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from parallel.core.errors import DataError
from parallel.traffic.actual import make_actual
from parallel.traffic.artificial.model import simulate
from parallel.traffic.scenario import load
from tests.conftest import run_cli, write_scenario


@pytest.fixture
def logs(tmp_path: Path, tiny_spec, tiny_params) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    obs = simulate(tiny_spec, tiny_params, tiny_spec.control.initial, np.random.SeedSequence(2))
    veh, det = tmp_path / "vehicles.csv", tmp_path / "detectors.parquet"
    obs.vehicles.to_csv(veh, index=False)
    obs.detectors.to_parquet(det, index=False)
    return veh, det


def _replay(tmp_path: Path, veh: str, det: str) -> Path:
    import copy

    from tests.conftest import TINY

    data = copy.deepcopy(TINY)
    data["actual"] = {"world": "replay", "vehicles": veh, "detectors": det}
    return write_scenario(tmp_path, data, "replay.yaml")


def test_replay_reads_logs(tmp_path: Path, logs: tuple[Path, Path]) -> None:
    sc = load(_replay(tmp_path, logs[0].name, logs[1].name))
    world = make_actual(sc)
    obs = world.observe(sc.control.initial, np.random.SeedSequence(0))
    assert len(obs.vehicles) > 100 and not world.actionable
    assert obs.kpis["throughput_veh_h"] > 0


def test_missing_and_mistyped_columns_are_listed(tmp_path: Path, logs: tuple[Path, Path]) -> None:
    import pandas as pd

    df = pd.read_csv(logs[0]).drop(columns=["delay_s", "stops"])
    df["travel_time_s"] = df["travel_time_s"].astype(str)
    df.loc[3, "travel_time_s"] = "fast"
    bad = tmp_path / "bad.csv"
    df.to_csv(bad, index=False)
    sc = load(_replay(tmp_path, bad.name, logs[1].name))
    with pytest.raises(
        DataError,
        match=r"missing columns: delay_s, stops; mistyped columns: travel_time_s .*'fast'",
    ):
        make_actual(sc)


def test_replay_run_recommends_without_acting(tmp_path: Path, logs: tuple[Path, Path]) -> None:
    path = _replay(tmp_path, logs[0].name, logs[1].name)
    res = run_cli("run", str(path), "--out", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    assert "Recommended plan" in res.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("vehicle_id,origin\n1,W\n")
    res = run_cli(
        "run", str(_replay(tmp_path, bad.name, logs[1].name)), "--out", str(tmp_path / "out")
    )
    assert res.returncode == 2 and "missing columns" in res.stderr and "Traceback" not in res.stderr


def _edit(src: Path, dst: Path, fn) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    df = pd.read_csv(src) if src.suffix == ".csv" else pd.read_parquet(src)
    fn(df)
    df.to_csv(dst, index=False)


@pytest.mark.parametrize(
    ("table", "edit", "message"),
    [
        (
            "veh",
            lambda d: d.__setitem__("origin", d["origin"].where(d.index != 4, "Mars")),
            r"line 6: origin 'Mars' is not in the scenario's network; valid: ",
        ),
        ("veh", lambda d: d.__setitem__("vehicle_id", 7), r"line 3: vehicle_id 7 appears again"),
        (
            "veh",
            lambda d: d.__setitem__("exit_time_s", d["entry_time_s"] - 1),
            r"line 2: exit_time_s is before entry_time_s",
        ),
        ("veh", lambda d: d.__setitem__("entry_time_s", -5.0), r"entry_time_s = -5 is negative"),
        (
            "veh",
            lambda d: d.__setitem__("delay_s", float("inf")),
            r"line 2: delay_s is inf; every value must be a finite number",
        ),
        ("det", lambda d: d.__setitem__("count", -3), r"line 2: count = -3 is negative"),
        (
            "det",
            lambda d: d.__setitem__("link", d["link"].where(d.index != 2, "nowhere")),
            r"line 4: link 'nowhere' is not in the scenario's network",
        ),
        (
            "det",
            lambda d: d.__setitem__("interval_start_s", 0.0),
            r"has a second row for the same interval_start_s",
        ),
    ],
)
def test_bad_replay_data_is_refused_by_validate_and_run(  # type: ignore[no-untyped-def]
    tmp_path: Path, logs: tuple[Path, Path], table: str, edit, message: str
) -> None:
    veh, det = logs
    if table == "veh":
        _edit(veh, tmp_path / "bad.csv", edit)
        path = _replay(tmp_path, "bad.csv", det.name)
    else:
        _edit(det, tmp_path / "bad.csv", edit)
        path = _replay(tmp_path, veh.name, "bad.csv")
    import re

    with pytest.raises(DataError) as err:
        make_actual(load(path))
    assert "bad.csv" in str(err.value) and re.search(message, str(err.value)), err.value
    if "Mars" in message:  # and through the command line, as validate and as run
        for cmd in (("validate", str(path)), ("run", str(path), "--out", str(tmp_path / "o"))):
            res = run_cli(*cmd)
            assert res.returncode == 2 and "Traceback" not in res.stderr
            assert re.search(message, res.stderr.replace("\n", " ")), res.stderr
