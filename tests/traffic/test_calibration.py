"""Calibration against observed data: it improves the named discrepancy with each optimiser,
including the adversarial (C2ST AUC) objective."""

from __future__ import annotations

import numpy as np
import pytest

from parallel.traffic.artificial.model import simulate
from parallel.traffic.calibrate import calibrate, demand_from_counts
from parallel.traffic.scenario import CalibrationConfig, JudgeConfig
from parallel.traffic.world import Params


@pytest.fixture
def observed(tiny_spec, tiny_params):  # type: ignore[no-untyped-def]
    truth = tiny_params.with_flat({"saturation_headway_s": 2.6, "speed.mean_kmh": 40.0})
    plan = tiny_spec.control.initial
    return truth, [(plan, simulate(tiny_spec, truth, plan, np.random.SeedSequence(42)))]


@pytest.mark.parametrize("optimizer", ["nelder-mead", "powell", "tpe"])
def test_calibration_reduces_the_discrepancy(tiny_spec, observed, optimizer) -> None:  # type: ignore[no-untyped-def]
    truth, obs = observed
    prior = truth.with_flat({"saturation_headway_s": 1.6, "speed.mean_kmh": 60.0})
    cfg = CalibrationConfig(
        parameters=["saturation_headway_s", "speed"], budget=25, optimizer=optimizer, replications=1
    )
    fitted, res = calibrate(tiny_spec, prior, obs, cfg, JudgeConfig(detector_interval_s=300), 1)
    assert res.evaluations <= 25 and len(res.trace) == res.evaluations
    assert res.after < 0.75 * res.before
    if optimizer == "nelder-mead":  # the default; the others only promise a lower discrepancy
        assert abs(fitted.speed_mean_kmh - 40) < abs(60 - 40)
        assert abs(fitted.saturation_headway_s - 2.6) < abs(1.6 - 2.6)
    assert set(res.fitted) == {"saturation_headway_s", "speed.mean_kmh", "speed.sd_kmh"}


def test_adversarial_calibration_with_the_discriminator_auc(tiny_spec, observed) -> None:  # type: ignore[no-untyped-def]
    truth, obs = observed
    prior = truth.with_flat({"speed.mean_kmh": 70.0})
    cfg = CalibrationConfig(
        objective={"c2st_auc": 1.0}, parameters=["speed"], budget=20, replications=1
    )
    fitted, res = calibrate(tiny_spec, prior, obs, cfg, JudgeConfig(detector_interval_s=300), 2)
    assert res.objective == {"c2st_auc": 1.0}
    assert res.before > 0.5  # the discriminator tells a 70 km/h world from a 40 km/h one
    assert res.after < res.before / 2
    assert fitted.speed_mean_kmh < 55


def test_demand_from_counts(tiny_spec, tiny_params) -> None:  # type: ignore[no-untyped-def]
    obs = simulate(tiny_spec, tiny_params, tiny_spec.control.initial, np.random.SeedSequence(1))
    est = demand_from_counts(tiny_spec, obs)
    for origin, rate in tiny_params.demand.items():
        assert est[origin] == pytest.approx(rate, rel=0.3)


def test_params_flat_round_trip(tiny_params: Params) -> None:
    flat = tiny_params.flat()
    assert tiny_params.with_flat(flat) == tiny_params
    with pytest.raises(KeyError, match="unknown parameter"):
        tiny_params.with_flat({"nope": 1.0})
