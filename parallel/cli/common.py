"""What the commands share: the error console, progress bars, scenario overrides from
flags, and fresh output folders."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from parallel.core.errors import UserInputError

err_console = Console(stderr=True)


#: command-line option -> the scenario key it overrides
TRAFFIC_OVERRIDES = {
    "seed": "seed",
    "rounds": "loop.rounds",
    "executor": "executor.kind",
    "workers": "executor.workers",
}


GAN_OVERRIDES = {"seed": "seed", "rounds": "loop.rounds", "steps": "gan.train.steps"}


def _overrides(
    args: argparse.Namespace, keys: dict[str, str] = TRAFFIC_OVERRIDES
) -> dict[str, Any]:
    return {
        key: getattr(args, opt) for opt, key in keys.items() if getattr(args, opt, None) is not None
    }


def _progress(console: Console, label: str) -> Progress:
    return Progress(
        TextColumn(label),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )


def _fresh_out(out: Path | None, name: str) -> Path:
    """A new (or empty) output folder; a folder with files in it is never written into."""
    import time

    if out is None:
        out = Path("reports") / name / time.strftime("fidelity-%Y%m%d-%H%M%S")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserInputError(
            f"--out {out}: exists and is not an empty folder; give a new folder name"
        )
    out.mkdir(parents=True, exist_ok=True)
    return out
