"""Tables for the GAN trainer: reading, checking and standardising numeric columns.

Mixed-type encoders (mode-specific normalisation, one-hot with Gumbel-softmax) are not
here yet; a table with non-numeric columns gets a clear error that says so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from parallel.errors import DataError


def read_numeric_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet table whose columns are all numeric.

    Raises:
        DataError: a missing or empty file, a non-numeric value in a numeric column (named
            with its row), an all-NaN or constant column, or categorical columns.
    """
    if not path.is_file():
        raise DataError(f"{path}: data file not found")
    try:
        df = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    except Exception as exc:
        raise DataError(f"{path}: cannot read the table ({type(exc).__name__}: {exc})") from None
    if df.empty or df.shape[1] == 0:
        raise DataError(f"{path}: the table is empty; give at least one row and one column")
    problems = []
    for col in df.columns:
        num = pd.to_numeric(df[col], errors="coerce")
        bad = num.isna() & df[col].notna()
        if bad.any():
            frac = bad.mean()
            row = int(np.flatnonzero(bad.to_numpy())[0])
            if frac > 0.5:
                problems.append(
                    f"column {col!r} is categorical ({df[col].nunique()} values); "
                    "categorical columns need the mixed-type encoders, which are not "
                    "available yet: drop or encode the column"
                )
            else:
                problems.append(
                    f"column {col!r} has the non-numeric value {df[col].iloc[row]!r} "
                    f"at data row {row + 1}"
                )
            continue
        if num.isna().all():
            problems.append(f"column {col!r} is empty (all NaN); drop it")
        elif num.nunique() <= 1:
            problems.append(
                f"column {col!r} is constant ({num.dropna().iloc[0]!r}); drop it, "
                "a generator has nothing to learn there"
            )
        df[col] = num
    if problems:
        raise DataError(f"{path}: " + "; ".join(problems))
    return df.dropna()


class Standardiser:
    """Per-column mean/std scaling, stored as plain JSON beside the checkpoint."""

    def __init__(self, columns: list[str], mean: list[float], std: list[float]) -> None:
        self.columns, self.mean, self.std = columns, np.asarray(mean), np.asarray(std)

    @classmethod
    def fit(cls, df: pd.DataFrame) -> Standardiser:
        x = df.to_numpy(float)
        return cls(
            list(df.columns), x.mean(axis=0).tolist(), np.maximum(x.std(axis=0), 1e-12).tolist()
        )

    def encode(self, df: pd.DataFrame) -> torch.Tensor:
        return torch.tensor(
            (df[self.columns].to_numpy(float) - self.mean) / self.std, dtype=torch.float32
        )

    def decode(self, x: torch.Tensor) -> pd.DataFrame:
        return pd.DataFrame(x.numpy() * self.std + self.mean, columns=self.columns)

    def to_json(self) -> dict:
        return {"columns": self.columns, "mean": self.mean.tolist(), "std": self.std.tolist()}
