"""Run folders: where every output of a run goes, written atomically, never outside.

A run folder holds the resolved scenario, the seeds, the package versions and the git
revision, so any figure in its report can be reproduced.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from parallel.core.errors import PathEscapeError

PACKAGES = (
    "parallel-systems",
    "numpy",
    "simpy",
    "networkx",
    "pandas",
    "pyarrow",
    "scipy",
    "scikit-learn",
    "pydantic",
    "optuna",
    "torch",
    "dask",
    "distributed",
)


def _default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def dumps(obj: Any) -> str:
    """JSON with NaN written as null, so every reader can parse it."""

    def clean(x: Any) -> Any:
        if isinstance(x, float) and not np.isfinite(x):
            return None
        if isinstance(x, dict):
            return {str(k): clean(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [clean(v) for v in x]
        if isinstance(x, np.floating):
            return clean(float(x))
        return x

    return json.dumps(clean(obj), indent=2, default=_default, allow_nan=False)


def atomic_write(target: Path, data: str | bytes) -> Path:
    """Write a file so that readers see the old content or the new, never a part.

    A temporary file in the same folder is written, flushed to disk (fsync), given the
    usual mode and renamed over the target; on any failure it is removed.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


class RunFolder:
    """A folder that refuses paths leading out of it and writes files atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    @classmethod
    def create(cls, parent: Path, scenario: str, seed: int) -> RunFolder:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        base = parent / scenario / f"{stamp}-s{seed}"
        path, k = base, 1
        while path.exists():
            k += 1
            path = base.with_name(f"{base.name}-{k}")
        path.mkdir(parents=True)
        return cls(path)

    def path(self, rel: str) -> Path:
        """``rel`` inside the folder; raises ``PathEscapeError`` if it would leave it."""
        p = PurePosixPath(rel.replace("\\", "/"))
        full = (self.root / Path(*p.parts)).resolve() if p.parts else self.root
        if p.is_absolute() or ".." in p.parts or not full.is_relative_to(self.root):
            raise PathEscapeError(
                f"path {rel!r} escapes the run folder {self.root}; give a relative path inside it"
            )
        return full

    def write_text(self, rel: str, text: str) -> Path:
        """Write atomically (see :func:`atomic_write`) inside the folder."""
        return atomic_write(self.path(rel), text)

    def write_json(self, rel: str, obj: Any) -> Path:
        return self.write_text(rel, dumps(obj) + "\n")

    def read_json(self, rel: str) -> Any:
        return read_json(self.path(rel))


def read_json(path: Path) -> Any:
    """Read a JSON file this program wrote; a damaged one is the user's input error.

    Raises:
        DataError: the file is missing, truncated or not JSON, naming it and the fix.
    """
    from parallel.core.errors import DataError

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise DataError(
            f"{path}: damaged or truncated ({type(exc).__name__} at {_where(exc)}); it was "
            "not used. Rerun the command that wrote it, or give another folder"
        ) from None


def read_yaml(path: Path) -> Any:
    """Read a YAML file this program wrote (safe loader, no aliases expanded beyond it).

    Raises:
        DataError: the file is missing or damaged, naming it.
    """
    from parallel.config.yamlsrc import load_yaml
    from parallel.core.errors import DataError, ScenarioError

    try:
        return load_yaml(path)[0]
    except ScenarioError as exc:
        raise DataError(
            f"{path}: damaged ({exc.detail}); rerun the command that wrote it"
        ) from None


def load_checkpoint(path: Path, map_location: Any) -> Any:
    """``torch.load(weights_only=True)`` of a checkpoint this program wrote.

    Raises:
        DataError: the file is truncated, not a checkpoint, or holds anything but tensors
            and plain values (a pickle is refused, never run), naming it and the fix.
    """
    import torch

    from parallel.core.errors import DataError

    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise DataError(f"{path}: checkpoint not found") from None
    except Exception as exc:  # torch raises many kinds; none is our bug
        first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"{path}: not a checkpoint that `parallel train` wrote, or a damaged one "
            f"({first}); it was not loaded. Train again into a new folder, or give the "
            "folder of a finished `parallel train`"
        ) from None


def _where(exc: Exception) -> str:
    line = getattr(exc, "lineno", None)
    return f"line {line}" if line is not None else "its start"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def git_revision() -> str | None:
    """The git revision of the source tree this package runs from, if it is a checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        rev = out.stdout.strip()
        if out.returncode != 0 or not rev:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        return rev + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def provenance(
    seed: int, executor: str, workers: int, argv: list[str] | None = None
) -> dict[str, Any]:
    return {
        "seed": seed,
        "seed_scheme": "numpy SeedSequence(seed, spawn_key=(stage, round, index)), stages named in parallel.core.seeds.Stage; cells share "
        "replication seeds (common random numbers)",
        "executor": executor,
        "workers": workers,
        "git_revision": git_revision(),
        "versions": versions(),
        "platform": platform.platform(),
        "command": argv if argv is not None else sys.argv,
        "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
