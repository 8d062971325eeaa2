"""The docs' examples run, and the field reference matches the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from parallel.scenarios import reference_markdown
from parallel.traffic.scenario import load
from tests.conftest import ROOT

README = (ROOT / "scenarios" / "README.md").read_text(encoding="utf-8")
EXAMPLES = re.findall(r"```yaml\n(.*?)```", README, re.S)


def test_field_reference_matches_the_models() -> None:
    assert reference_markdown() in README


@pytest.mark.parametrize("i", range(len(EXAMPLES)))
def test_yaml_examples_validate(tmp_path: Path, i: int) -> None:
    text = EXAMPLES[i]
    if "world: replay" in text:
        (tmp_path / "data").mkdir()
        for name in ("vehicles.csv", "detectors.csv"):
            (tmp_path / "data" / name).write_text("x\n1\n")
    p = tmp_path / "example.yaml"
    p.write_text(text)
    if "\ngan:" in text:
        from parallel.gan.scenario import load_gan

        (tmp_path / "data" / "gan").mkdir(parents=True)
        (tmp_path / "data" / "gan" / "vehicle_records.csv").write_text("a\n1\n")
        assert load_gan(p).name
        return
    if "\nsumo:" in text:  # a city scenario: next to the shipped RESCO data
        import shutil

        for d in ("resco", "grid3"):
            shutil.copytree(ROOT / "scenarios" / "data" / d, tmp_path / "data" / d)
        from parallel.traffic.city import load_city

        assert load_city(p).name
        return
    sc = load(p)
    assert sc.name


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 3


def test_main_readme_quick_start_has_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Quick start\n.*?```(?:bash|sh)?\n(.*?)```", text, re.S)
    assert block, "README needs a Quick start code block"
    commands = [ln for ln in block.group(1).splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(commands) == 2
    assert "scenarios/quickstart.yaml" in commands[0] and "pytest" in commands[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1].strip() in ci


@pytest.mark.slow
def test_the_readme_notebook_example_runs() -> None:
    """The README's Python example, run as a user would paste it, from the repository root."""
    import subprocess
    import sys

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    (code,) = re.findall(r"```python\n(.*?)```", text, re.S)
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr[-2000:]
    first, second = res.stdout.strip().splitlines()[-2:]
    assert first == "149 edges, 8 traffic lights"
    assert second.startswith("C") and float(second.split()[-1]) > 0
