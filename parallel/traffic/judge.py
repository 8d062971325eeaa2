"""The judge: how far apart are the actual and the artificial observations?

Every score carries its scale and its direction. Definitions follow
``docs/metrics.md`` exactly:

* KS complement ``1 - max|F_real - F_syn|``; TV complement ``1 - ½ Σ|R - S|``;
* Wasserstein-1 through ``scipy.stats.wasserstein_distance``, in the column's units;
* MMD with a Gaussian kernel, median-heuristic bandwidth, permutation p-value;
* GEH on hourly flows (share of detector-intervals with GEH < 5) and RMSN;
* C2ST: a classifier trained on k folds to tell actual rows from artificial ones; the
  mean out-of-fold AUC (0.5 = indistinguishable) and a label-permutation p-value.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from parallel.core.registry import Registry
from parallel.metrics.c2st import c2st
from parallel.metrics.distances import ks_complement, ks_statistic, mmd, tv_complement, wasserstein1
from parallel.traffic.observation import Observation
from parallel.traffic.scenario import JudgeConfig

NUMERIC_COLUMNS = ("travel_time_s", "delay_s", "stops")
CATEGORICAL_COLUMNS = ("origin", "destination")
DETECTOR_COLUMNS = ("count", "mean_speed_kmh", "queue_veh")


@dataclass(frozen=True)
class Score:
    """One number with its meaning."""

    metric: str
    subject: str
    value: float
    scale: str
    better: str  # "higher" | "lower" | "0.5"
    p_value: float | None = None


@dataclass
class Verdict:
    """Everything the judge said about one (actual, artificial) pair."""

    scores: list[Score] = field(default_factory=list)
    kpi_error: dict[str, float] = field(default_factory=dict)

    def get(self, metric: str, subject: str) -> float:
        for s in self.scores:
            if s.metric == metric and s.subject == subject:
                return s.value
        raise KeyError(f"no score {metric} on {subject}")

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(s) for s in self.scores])

    def headline(self) -> dict[str, float]:
        """The few numbers a report leads with."""
        out = {}
        for metric, subject in (
            ("geh_share", "counts"),
            ("rmsn", "counts"),
            ("ks_complement", "travel_time_s"),
            ("c2st_auc", "vehicles"),
        ):
            with contextlib.suppress(KeyError):
                out[f"{metric}:{subject}"] = self.get(metric, subject)
        return out


def _hourly(
    actual: Observation, artificial: Observation, interval_s: float
) -> tuple[np.ndarray, np.ndarray]:
    a = actual.detectors.set_index(["link", "interval_start_s"])["count"]
    s = artificial.detectors.set_index(["link", "interval_start_s"])["count"]
    idx = a.index.union(s.index)
    scale = 3600.0 / interval_s
    c = a.reindex(idx, fill_value=0).to_numpy(float) * scale
    m = s.reindex(idx, fill_value=0).to_numpy(float) * scale
    return m, c


def geh(modelled: np.ndarray, counted: np.ndarray) -> np.ndarray:
    """GEH = sqrt(2 (M - C)² / (M + C)) per detector-interval, on hourly flows."""
    denom = modelled + counted
    with np.errstate(invalid="ignore", divide="ignore"):
        g = np.sqrt(2.0 * (modelled - counted) ** 2 / denom)
    return np.where(denom > 0, g, 0.0)


def geh_share(actual: Observation, artificial: Observation, interval_s: float) -> float:
    """Share of detector-intervals with GEH < 5, on hourly flows (>= 0.85 is the usual target)."""
    m, c = _hourly(actual, artificial, interval_s)
    return float(np.mean(geh(m, c) < 5))


def rmsn(modelled: np.ndarray, counted: np.ndarray) -> float:
    """RMSN = sqrt(N Σ (M - C)²) / Σ C (0 is best)."""
    total = counted.sum()
    if total <= 0:
        return float("nan")
    return float(np.sqrt(len(counted) * np.sum((modelled - counted) ** 2)) / total)


# ------------------------------------------------------------------ objectives
Objective = Callable[[Observation, Observation, JudgeConfig, np.random.Generator], float]
OBJECTIVES: Registry[Objective] = Registry("calibration objective")


@OBJECTIVES.register("rmsn")
def _obj_rmsn(a: Observation, s: Observation, cfg: JudgeConfig, rng: np.random.Generator) -> float:
    return rmsn(*_hourly(a, s, cfg.detector_interval_s))


@OBJECTIVES.register("geh")
def _obj_geh(a: Observation, s: Observation, cfg: JudgeConfig, rng: np.random.Generator) -> float:
    m, c = _hourly(a, s, cfg.detector_interval_s)
    return 1.0 - float(np.mean(geh(m, c) < 5))


@OBJECTIVES.register("ks_travel_time")
def _obj_ks_tt(a: Observation, s: Observation, cfg: JudgeConfig, rng: np.random.Generator) -> float:
    return ks_statistic(
        a.vehicles["travel_time_s"].to_numpy(), s.vehicles["travel_time_s"].to_numpy()
    )


@OBJECTIVES.register("w1_travel_time")
def _obj_w1_tt(a: Observation, s: Observation, cfg: JudgeConfig, rng: np.random.Generator) -> float:
    real = a.vehicles["travel_time_s"].to_numpy()
    return wasserstein1(real, s.vehicles["travel_time_s"].to_numpy()) / max(
        float(real.mean()), 1e-9
    )


@OBJECTIVES.register("ks_speed")
def _obj_ks_speed(
    a: Observation, s: Observation, cfg: JudgeConfig, rng: np.random.Generator
) -> float:
    return ks_statistic(
        a.detectors["mean_speed_kmh"].dropna().to_numpy(),
        s.detectors["mean_speed_kmh"].dropna().to_numpy(),
    )


@OBJECTIVES.register("c2st_auc")
def _obj_c2st(a: Observation, s: Observation, cfg: JudgeConfig, rng: np.random.Generator) -> float:
    auc, _ = c2st(
        a.vehicles, s.vehicles, cfg.c2st, rng, NUMERIC_COLUMNS, CATEGORICAL_COLUMNS, permutations=0
    )
    return abs(auc - 0.5) * 2  # 0 when indistinguishable, 1 when fully separable


def discrepancy(
    weights: Mapping[Any, float],
    actual: Observation,
    artificial: Observation,
    cfg: JudgeConfig,
    seed: int = 0,
) -> float:
    """The weighted sum of named objectives (lower is better)."""
    total = 0.0
    for name, w in weights.items():
        rng = np.random.default_rng(seed)
        val = OBJECTIVES.get(name)(actual, artificial, cfg, rng)
        total += w * (val if np.isfinite(val) else 1.0)
    return float(total)


# ------------------------------------------------------------------ the judge
def judge(
    actual: Observation,
    artificial: Observation,
    cfg: JudgeConfig,
    rng: np.random.Generator,
    with_c2st: bool = True,
) -> Verdict:
    """Compare two observations on every column, the counts and the KPIs."""
    v = Verdict()
    add = v.scores.append
    av, sv = actual.vehicles, artificial.vehicles
    for col in NUMERIC_COLUMNS:
        r, s = av[col].to_numpy(float), sv[col].to_numpy(float)
        add(Score("ks_complement", col, ks_complement(r, s), "[0, 1]", "higher"))
        add(
            Score(
                "wasserstein1", col, wasserstein1(r, s), f"{col.rsplit('_', 1)[-1]} units", "lower"
            )
        )
        m2, p = mmd(r, s, cfg.mmd_permutations, rng)
        add(Score("mmd2", col, m2, "[0, 2]", "lower", p))
    for col in CATEGORICAL_COLUMNS:
        add(Score("tv_complement", col, tv_complement(av[col], sv[col]), "[0, 1]", "higher"))
    ad, sd = actual.detectors, artificial.detectors
    for col in DETECTOR_COLUMNS:
        r, s = ad[col].dropna().to_numpy(float), sd[col].dropna().to_numpy(float)
        add(Score("ks_complement", f"detector.{col}", ks_complement(r, s), "[0, 1]", "higher"))
        add(Score("wasserstein1", f"detector.{col}", wasserstein1(r, s), "column units", "lower"))
    m, c = _hourly(actual, artificial, cfg.detector_interval_s)
    add(
        Score(
            "geh_share",
            "counts",
            float(np.mean(geh(m, c) < 5)),
            "[0, 1] (>= 0.85 passes)",
            "higher",
        )
    )
    add(Score("rmsn", "counts", rmsn(m, c), "[0, inf)", "lower"))
    if with_c2st:
        auc, p = c2st(av, sv, cfg.c2st, rng, NUMERIC_COLUMNS, CATEGORICAL_COLUMNS)
        add(Score("c2st_auc", "vehicles", auc, "[0, 1] (0.5 = indistinguishable)", "0.5", p))
    for k, val in actual.kpis.items():
        sim = artificial.kpis.get(k, float("nan"))
        v.kpi_error[k] = float((sim - val) / val) if val else float("nan")
        add(Score("kpi_rel_error", k, v.kpi_error[k], "relative, signed", "0"))
    return v
