"""Scenario YAML that would hang, mislead or lose information is refused with exit 2."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from parallel.config.yamlsrc import load_yaml
from parallel.core.errors import ScenarioError
from tests.conftest import run_cli

BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{c}: &{c} [{','.join(['*' + p] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi")]
)


def test_an_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    p = tmp_path / "bomb.yaml"
    p.write_text(BOMB)
    t0 = time.perf_counter()
    res = run_cli("validate", str(p))
    assert time.perf_counter() - t0 < 30  # it used to take gigabytes and never finish
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "bomb.yaml:2" in res.stderr and "alias '*a' is not allowed" in res.stderr


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "name: a\nseed: 1\nseed: 2\n",
            r"s.yaml:3, field 'seed'.*'seed' appears twice.*first on line 2",
        ),
        ("name: a\nx: " + "[" * 60 + "]" * 60 + "\n", "nested deeper than 50 levels"),
    ],
)
def test_duplicate_keys_and_deep_nesting(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(text)
    with pytest.raises(ScenarioError, match=match):
        load_yaml(p)


def test_not_utf8(tmp_path: Path) -> None:
    p = tmp_path / "latin.yaml"
    p.write_bytes("name: a\ndescription: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ScenarioError, match=r"latin.yaml:2.*not UTF-8 text"):
        load_yaml(p)


def test_a_huge_value_is_not_echoed(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text("name: a\nseed: " + "x" * 100_000 + "\n")
    res = run_cli("validate", str(p))
    assert res.returncode == 2 and len(res.stderr) < 2000
