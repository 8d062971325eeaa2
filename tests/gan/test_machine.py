"""The GAN as a parallel machine: GAN scenarios through `parallel run`, `validate`,
`train` and `report`, and their bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from parallel.core.errors import ScenarioError
from parallel.gan.scenario import load_gan, train_config
from tests.conftest import ROOT, run_cli

TABLE = {
    "name": "tiny_table",
    "seed": 1,
    "gan": {
        "data": {"file": str(ROOT / "scenarios/data/gan/vehicle_records.csv")},
        "train": {"steps": 60},
    },
    "judge": {"samples": 300, "c2st": {"permutations": 20}},
    "loop": {"rounds": 3},
}


def _write(tmp: Path, data: dict, name: str = "g.yaml") -> Path:
    p = tmp / name
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def test_table_scenario_runs_through_the_loop(tmp_path: Path) -> None:
    sc = _write(tmp_path, TABLE)
    res = run_cli("run", str(sc), "--out", str(tmp_path / "runs"), "--quiet", "--device", "cpu")
    assert res.returncode == 0, res.stderr
    assert "round 3/3: step 40" in res.stdout and "Report:" in res.stdout
    run = next((tmp_path / "runs" / "tiny_table").iterdir())
    hist = json.loads((run / "history.json").read_text())
    steps = [r["step"] for r in hist["rounds"]]
    assert steps == [0, 20, 40] and hist["final"]["step"] == 60
    r0, fin = hist["rounds"][0], hist["final"]
    assert set(fin["columns"]) == set(pd.read_csv(ROOT / TABLE["gan"]["data"]["file"]).columns)
    assert 0.0 <= fin["c2st_auc"] <= 1.0 and 0 < fin["c2st_p"] <= 1
    assert fin["quality"]["quality"] > r0["quality"]["quality"]  # training helped
    html = (run / "report.html").read_text()
    assert "Discrepancy per round" in html and html.count("data:image/png;base64") >= 3
    assert json.loads((run / "run.json").read_text())["status"] == "finished"
    # the run's generator is a generator folder: it can be sampled
    res = run_cli(
        "generate",
        "table",
        "--from",
        str(run / "generator"),
        "--rows",
        "500",
        "--out",
        str(tmp_path / "ds"),
    )
    assert res.returncode == 0, res.stderr
    # and the report re-renders from the folder alone
    (run / "report.html").unlink()
    res = run_cli("report", str(run))
    assert res.returncode == 0 and (run / "report.html").is_file()


def test_toy_scenario_counts_modes(tmp_path: Path) -> None:
    data = {
        "name": "tiny_ring",
        "gan": {
            "data": {"toy": "ring", "rows": 5000},
            "train": {"steps": 40, "batch_size": 100},
            "sampling": {"keep": 0.9},
        },
        "judge": {"samples": 400, "c2st": {"permutations": 20}},
        "loop": {"rounds": 2},
        "report": {"plots": False},
    }
    res = run_cli("run", str(_write(tmp_path, data)), "--out", str(tmp_path / "r"), "--quiet")
    assert res.returncode == 0, res.stderr
    run = next((tmp_path / "r" / "tiny_ring").iterdir())
    fin = json.loads((run / "history.json").read_text())["final"]
    assert fin["modes"]["n_modes"] == 8 and 0 <= fin["modes"]["hq"] <= 1
    # truncated sampling is judged, and plain sampling is reported beside it
    assert fin["modes_plain"]["n_modes"] == 8 and 0 <= fin["modes_plain"]["hq"] <= 1
    assert "plain sampling" in (run / "report.md").read_text() and "plain sampling" in res.stdout
    # the toy is standardised for training (its scale recorded with the data)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["data"]["scale"] == pytest.approx(0.7071, abs=0.01)  # std of the ring


def test_train_a_scenario_and_validate(tmp_path: Path) -> None:
    sc = _write(tmp_path, TABLE)
    res = run_cli("validate", str(sc))
    assert res.returncode == 0 and "GAN scenario 'tiny_table'" in res.stdout
    res = run_cli("train", str(sc), "--out", str(tmp_path / "g"), "--steps", "30")
    assert res.returncode == 0, res.stderr
    assert "trained 30 steps of tiny_table" in res.stdout
    assert (tmp_path / "g" / "checkpoint.pt").is_file() and (
        tmp_path / "g" / "encoder.json"
    ).is_file()


def test_defaults_follow_the_data_kind(tmp_path: Path) -> None:
    table = train_config(load_gan(_write(tmp_path, TABLE)))
    assert table.net == "table" and table.steps == 60 and table.seed == 1
    ring = train_config(
        load_gan(_write(tmp_path, {"name": "r", "gan": {"data": {"toy": "ring"}}}, "r.yaml"))
    )
    assert ring.net == "mlp" and ring.pieces == 3


@pytest.mark.parametrize(
    ("patch", "match"),
    [
        ({"gan": {"data": {"toy": "ring", "file": "x.csv"}}}, "exactly one of 'toy'"),
        ({"gan": {"data": {"toy": "spiral"}}}, r"gan\.data\.toy"),
        ({"gan": {"data": {"file": "missing.csv"}}}, r"field 'gan\.data\.file'.*not found"),
        ({"gan": {"data": {"toy": "ring"}, "train": {"loss": "wgan-xyz"}}}, "valid names are"),
        (
            {"gan": {"data": {"toy": "ring"}, "train": {"lr": 0.1}}},
            "unknown key 'lr'; allowed keys",
        ),
        (
            {"gan": {"data": {"toy": "ring"}, "train": {"steps": 2}}, "loop": {"rounds": 5}},
            "fewer than loop.rounds",
        ),
        (
            {"gan": {"data": {"toy": "ring"}, "sampling": {"keep": 0}}},
            r"gan\.sampling\.keep",
        ),
        (
            {"gan": {**TABLE["gan"], "sampling": {"keep": 0.9}}},
            "applies to toy data only",
        ),
    ],
)
def test_bad_gan_scenarios(tmp_path: Path, patch: dict, match: str) -> None:
    p = _write(tmp_path, {"name": "bad", **patch})
    with pytest.raises(ScenarioError, match=match):
        load_gan(p)
    if "toy" not in str(patch["gan"]["data"]) or "spiral" in str(patch):  # two via the CLI
        res = run_cli("run", str(p), "--out", str(tmp_path / "r"))
        assert res.returncode == 2 and "Traceback" not in res.stderr and str(p) in res.stderr


@pytest.mark.parametrize(
    ("train", "data", "message"),
    [
        ({"steps": 20, "g_hidden": 100_000_000}, None, "field 'gan.train.g_hidden'"),
        ({"steps": 20, "pac": 3, "batch_size": 100}, None, "not a multiple of pac 3"),
        ({"steps": 20}, b"\x00\x01\x02binary\xff\xfe" * 50, "gan.data.file"),
    ],
)
def test_validate_refuses_what_run_would(
    tmp_path: Path, train: dict, data: bytes | None, message: str
) -> None:
    import shutil

    sc = yaml.safe_load((ROOT / "scenarios" / "gan_table.yaml").read_text())
    sc["gan"]["train"] = train
    (tmp_path / "data").mkdir()
    table = tmp_path / "data" / "t.csv"
    shutil.copy(ROOT / "scenarios" / "data" / "gan" / "vehicle_records.csv", table)
    if data is not None:
        table.write_bytes(data)
    sc["gan"]["data"]["file"] = "data/t.csv"
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(sc))
    res = run_cli("validate", str(p))
    assert res.returncode == 2 and message in res.stderr and "Traceback" not in res.stderr
