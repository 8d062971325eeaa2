"""CLI smoke tests on tiny budgets, in a subprocess, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, run_cli

SUMMARY_ROUND_KEYS = {
    "round",
    "control",
    "actual_kpis",
    "artificial_kpis",
    "predicted_kpis",
    "discrepancy",
}
KPIS = {
    "mean_delay_s",
    "mean_travel_time_s",
    "p95_travel_time_s",
    "throughput_veh_h",
    "max_queue_veh",
}


def test_validate_ok(tiny_path: Path) -> None:
    res = run_cli("validate", str(tiny_path))
    assert res.returncode == 0 and "ok" in res.stdout


def test_run_writes_a_complete_run_folder_and_report_rerenders(
    tiny_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "runs"
    res = run_cli("run", str(tiny_path), "--out", str(out), "--rounds", "2", "--seed", "3")
    assert res.returncode == 0, res.stderr
    (run_dir,) = list((out / "tiny").iterdir())
    for name in (
        "report.html",
        "report.md",
        "metrics.csv",
        "scenario.resolved.yaml",
        "run.json",
        "summary.json",
        "history.json",
    ):
        assert (run_dir / name).is_file(), name
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["scenario"] == "tiny" and summary["seed"] == 3
    assert summary["executor"] == "sequential"
    assert len(summary["rounds"]) == 2
    for r in summary["rounds"]:
        assert set(r) >= SUMMARY_ROUND_KEYS
        assert set(r["actual_kpis"]) == KPIS and set(r["predicted_kpis"]) == KPIS
    cal = summary["calibration"]
    assert set(cal["fitted"]) >= {"demand.W", "saturation_headway_s", "speed.mean_kmh"}
    assert cal["truth"]["demand.W"] == 800
    run = json.loads((run_dir / "run.json").read_text())
    assert run["seed"] == 3 and run["status"] == "finished" and run["versions"]["simpy"]
    assert "git_revision" in run
    resolved = yaml.safe_load((run_dir / "scenario.resolved.yaml").read_text())
    assert resolved["seed"] == 3 and resolved["loop"]["rounds"] == 2
    assert "Report:" in res.stdout
    html = (run_dir / "report.html").read_text()
    (run_dir / "report.html").unlink()
    res = run_cli("report", str(run_dir))
    assert res.returncode == 0, res.stderr
    assert (run_dir / "report.html").read_text() == html
    # a damaged file of the folder is named, never a raw parser message
    text = (run_dir / "summary.json").read_text()
    (run_dir / "summary.json").write_text(text[: len(text) // 2])
    res = run_cli("report", str(run_dir))
    assert res.returncode == 2 and "summary.json: damaged or truncated" in res.stderr
    (run_dir / "summary.json").write_text(text)
    (run_dir / "scenario.resolved.yaml").write_text("name: [unclosed\n")
    res = run_cli("report", str(run_dir))
    assert res.returncode == 2 and "scenario.resolved.yaml: damaged" in res.stderr


def test_report_on_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    res = run_cli("report", str(tmp_path))
    assert res.returncode == 2 and "not a finished run folder" in res.stderr
    res = run_cli("report", str(tmp_path / "nope"))
    assert res.returncode == 2


def test_python_dash_m_parallel() -> None:
    import subprocess
    import sys

    res = subprocess.run(
        [sys.executable, "-m", "parallel", "--help"], capture_output=True, text=True, cwd=ROOT
    )
    assert res.returncode == 0 and "usage: parallel" in res.stdout


def test_train_help_quotes_the_defaults_the_code_uses() -> None:
    """`parallel train --help` takes its defaults from the constants training uses."""
    import re

    from parallel.gan.defaults import IMAGE_DEFAULTS, TABLE_DEFAULTS

    text = " ".join(run_cli("train", "--help").stdout.split())  # argparse wraps lines
    for opt, key in (("--steps", "steps"), ("--pac", "pac"), ("--batch-size", "batch_size")):
        m = re.search(re.escape(opt) + r" \S+ [^(]*\(default: (\S+) for a table", text)
        assert m and m.group(1) == str(TABLE_DEFAULTS[key]), opt
    assert f"{IMAGE_DEFAULTS['steps']} for an image folder" in text
    assert f"{TABLE_DEFAULTS['loss']} for a table" in text


def test_every_command_has_an_example_and_generate_kinds_have_only_their_flags() -> None:
    for cmd in ("validate", "run", "record", "train", "evaluate", "fidelity", "verify", "report"):
        assert "example" in run_cli(cmd, "--help").stdout, cmd
    images = run_cli("generate", "images", "--help").stdout
    table = run_cli("generate", "table", "--help").stdout
    assert "--per-class" in images and "--rows" not in images and "--frames" not in images
    assert "--rows" in table and "--per-class" not in table and "--view" not in table
    res = run_cli("generate", "table", "--from", ".", "--out", "x", "--rows", "5", "--frames", "3")
    assert res.returncode == 2 and "unrecognized arguments: --frames" in res.stderr


def test_sigterm_stops_a_run_and_its_workers_and_says_so(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "parallel", "run", "scenarios/quickstart.yaml",
         "--out", str(tmp_path), "--workers", "2", "--quiet"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.time() + 60
        while not list(tmp_path.glob("*/*/run.json")) and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(2.0)  # well inside the loop, workers busy
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 143, err
    assert "terminated" in err and "Traceback" not in err
    (run_json,) = tmp_path.glob("*/*/run.json")
    assert json.loads(run_json.read_text())["status"] == "interrupted"
    time.sleep(1.0)
    with pytest.raises(ProcessLookupError):  # no worker of the run is left behind
        os.killpg(proc.pid, 0)


def test_bad_options_and_fields_are_named_for_what_they_are(tmp_path: Path) -> None:
    res = run_cli("run", "scenarios/quickstart.yaml", "--rounds", "0", "--out", str(tmp_path))
    assert res.returncode == 2 and "--rounds" in res.stderr and "line" not in res.stderr
    res = run_cli("train", "x.csv", "--max-categories", "0", "--out", str(tmp_path / "g"))
    assert res.returncode == 2 and "--max-categories" in res.stderr
    src = (ROOT / "scenarios" / "quickstart.yaml").read_text()
    p = tmp_path / "s.yaml"
    p.write_text(src.replace("seed: ", "seed: true  # was: ", 1))
    res = run_cli("validate", str(p))
    assert res.returncode == 2 and "field 'seed'" in res.stderr
    p.write_text(
        "name: pw\nnetwork: {kind: file, file: /etc/passwd}\n"
        "actual: {world: sumo, truth: {demand: {a: 100}}}\n"
    )
    res = run_cli("validate", str(p))
    assert res.returncode == 2 and "needs sumolib" not in res.stderr
    assert "/etc/passwd" in res.stderr and "Traceback" not in res.stderr
    assert "not well-formed XML" in res.stderr or "not a SUMO network" in res.stderr
