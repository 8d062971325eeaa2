"""``parallel generate``: seeded shards, manifest integrity after kill -9, refusals and
bad inputs, and driving data from a run folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from parallel.data.shards import MANIFEST, verify
from parallel.gan.synth import TABLE_DEFAULTS, fit_table
from parallel.gan.toy import vehicle_table
from parallel.gan.train import TrainConfig
from tests.conftest import ROOT, TINY, run_cli, write_scenario


@pytest.fixture(scope="module")
def generator(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "g"
    cfg = TrainConfig(**(TABLE_DEFAULTS | {"steps": 30, "checkpoint_every": 30}))
    fit_table(vehicle_table(1000, np.random.default_rng(0)), out, cfg, device="cpu")
    return out


def _gen(generator: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return run_cli("generate", "table", "--from", str(generator), "--out", str(out), *extra)


def test_same_seed_same_rows_and_a_sound_manifest(generator: Path, tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((a, "1"), (b, "1"), (c, "2")):
        res = _gen(generator, out, "--rows", "25000", "--shard-rows", "10000", "--seed", seed)
        assert res.returncode == 0, res.stderr
    ma, mb = (json.loads((d / MANIFEST).read_text()) for d in (a, b))
    assert ma["rows"] == 25000 and ma["seed"] == 1 and ma["complete"]
    assert [s["rows"] for s in ma["shards"]] == [10000, 10000, 5000]
    assert set(ma["schema"]) == set(vehicle_table(5, np.random.default_rng(0)).columns)
    assert ma["source"]["kind"] == "table generator" and ma["source"]["trained_on"]["rows"] == 1000
    assert [s["sha256"] for s in ma["shards"]] == [s["sha256"] for s in mb["shards"]]
    mc = json.loads((c / MANIFEST).read_text())
    assert mc["shards"][0]["sha256"] != ma["shards"][0]["sha256"]
    assert verify(a) == []
    df = pd.read_parquet(a / "data")
    assert len(df) == 25000 and df["approach"].isin(["N", "S", "E", "W"]).all()
    # `parallel verify` passes a sound dataset and names a corrupted shard, exit 1
    assert run_cli("verify", str(a)).returncode == 0
    shard = a / ma["shards"][1]["file"]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    bad = run_cli("verify", str(a))
    assert bad.returncode == 1 and ma["shards"][1]["file"] in bad.stderr
    assert "checksum mismatch" in bad.stderr and "Traceback" not in bad.stderr
    assert run_cli("verify", str(tmp_path)).returncode == 2  # no manifest: bad input


def test_kill_then_resume_gives_the_same_dataset(generator: Path, tmp_path: Path) -> None:
    args = ["--rows", "3000000", "--shard-rows", "100000", "--seed", "4"]
    ref = _gen(generator, tmp_path / "ref", *args)
    assert ref.returncode == 0, ref.stderr
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "parallel.cli",
            "generate",
            "table",
            "--from",
            str(generator),
            "--out",
            str(out),
            *args,
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    listed = 0
    while time.time() < deadline and proc.poll() is None:
        try:
            m = json.loads((out / MANIFEST).read_text())
            listed = len(m["shards"])
        except (OSError, ValueError):
            listed = 0
        if listed >= 3:
            break
        time.sleep(0.005)
    assert proc.poll() is None, "generation finished before it could be killed; raise --rows"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    m = json.loads((out / MANIFEST).read_text())  # the manifest is never half-written
    assert not m["complete"] and 3 <= len(m["shards"]) < 30
    assert verify(out) == []  # every listed shard is whole
    res = _gen(generator, out, *args)
    assert res.returncode == 0, res.stderr
    a, b = (json.loads((d / MANIFEST).read_text()) for d in (tmp_path / "ref", out))
    assert b["complete"] and a["shards"] == b["shards"]
    assert verify(out) == []
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert sorted(p.name for p in (out / "data").iterdir()) == [
        Path(s["file"]).name for s in a["shards"]
    ]


def test_refusals_and_bad_inputs(generator: Path, tmp_path: Path) -> None:
    out = tmp_path / "d"
    assert _gen(generator, out, "--rows", "1000").returncode == 0
    res = _gen(generator, out, "--rows", "1000", "--seed", "1")
    assert (
        res.returncode == 2 and "different dataset" in res.stderr and "seed: 0 -> 1" in res.stderr
    )
    res = _gen(generator, tmp_path / "z", "--rows", "0")
    assert res.returncode == 2 and "--rows: 0 is below 1" in res.stderr
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("mine")
    res = _gen(generator, junk, "--rows", "10")
    assert res.returncode == 2 and "did not make (notes.txt)" in res.stderr
    assert (junk / "notes.txt").read_text() == "mine"
    res = _gen(tmp_path / "nowhere", tmp_path / "y", "--rows", "10")
    assert res.returncode == 2 and "no such folder" in res.stderr
    res = run_cli(
        "generate", "driving", "--from", str(junk), "--rows", "10", "--out", str(tmp_path / "x")
    )
    assert res.returncode == 2 and "neither a generator folder" in res.stderr
    for r in (res,):
        assert "Traceback" not in r.stderr


def test_driving_from_a_run_folder(tmp_path: Path) -> None:
    sc = write_scenario(tmp_path, TINY | {"loop": {"rounds": 1}})
    res = run_cli("run", str(sc), "--out", str(tmp_path / "runs"), "--quiet")
    assert res.returncode == 0, res.stderr
    run = next((tmp_path / "runs" / "tiny").iterdir())
    out = tmp_path / "drv"
    res = run_cli(
        "generate",
        "driving",
        "--from",
        str(run),
        "--rows",
        "1500",
        "--out",
        str(out),
        "--executor",
        "sequential",
    )
    assert res.returncode == 0, res.stderr
    m = json.loads((out / MANIFEST).read_text())
    assert m["rows"] == 1500 and m["source"]["kind"] == "artificial world"
    df = pd.read_parquet(out / "data")
    assert len(df) == 1500 and df["run"].nunique() >= 2  # more than one replication
    for _, row in df.head(200).iterrows():
        n = len(row["links"])
        assert n >= 2 and len(row["t_enter_s"]) == len(row["t_exit_s"]) == n
        assert row["t_enter_s"][0] == pytest.approx(row["entry_time_s"])
        assert row["t_exit_s"][-1] == pytest.approx(row["exit_time_s"])
        enter, stop, leave = (np.asarray(row[k]) for k in ("t_enter_s", "t_stopline_s", "t_exit_s"))
        assert np.all(enter <= stop + 1e-9) and np.all(stop <= leave + 1e-9)
        assert np.allclose(enter[1:], leave[:-1])  # the next link starts where the last ended


@pytest.mark.parametrize("damage", ["truncated", "garbage", "pickle", "config"])
def test_a_damaged_generator_folder_is_named_not_loaded(
    generator: Path, tmp_path: Path, damage: str
) -> None:
    import pickle
    import shutil

    g = tmp_path / "g"
    shutil.copytree(generator, g)
    ckpt = g / "checkpoint.pt"
    if damage == "truncated":
        ckpt.write_bytes(ckpt.read_bytes()[:200])
    elif damage == "garbage":
        ckpt.write_bytes(os.urandom(4096))
    elif damage == "pickle":  # a pickle that would run code if it were unpickled
        ckpt.write_bytes(pickle.dumps(os.system))
    else:
        cfg = g / "config.json"
        cfg.write_text(cfg.read_text()[: len(cfg.read_text()) // 2])
    res = _gen(g, tmp_path / "out", "--rows", "10")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    name = "config.json" if damage == "config" else "checkpoint.pt"
    assert name in res.stderr and "weights_only=False" not in res.stderr
    assert not (tmp_path / "out").exists()  # and nothing was left behind


def test_a_generator_whose_training_stopped_early_is_noted(generator: Path, tmp_path: Path) -> None:
    import shutil

    g = tmp_path / "g"
    shutil.copytree(generator, g)
    cfg = json.loads((g / "config.json").read_text())
    cfg["steps"] = 120  # planned 120, killed after its checkpoint at step 30
    (g / "config.json").write_text(json.dumps(cfg))
    res = _gen(g, tmp_path / "out", "--rows", "10")
    assert res.returncode == 0, res.stderr
    assert "trained 30 of its 120 steps" in res.stdout.replace("\n", " ")
    m = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert any("stopped early" in n for n in m["notes"])
    res = _gen(generator, tmp_path / "out2", "--rows", "10")
    assert "stopped early" not in res.stdout
