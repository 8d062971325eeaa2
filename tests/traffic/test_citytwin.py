"""The city twin's calibration: it recovers a known behaviour, and fits the same on every
executor (each candidate's runs go to the executor; seeds travel with the tasks)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from parallel.core.executors import ProcessExecutor, SequentialExecutor
from parallel.traffic.artificial.params import MesoParams
from parallel.traffic.city import CityCalibration
from parallel.traffic.citytwin import CityTwin, calibrate
from parallel.traffic.observation import Observation
from parallel.traffic.timing import TimingPlan, incumbent
from tests.traffic.test_meso import DEMAND, HOUR, SIGNAL, corridor

Setting = tuple[CityTwin, list[tuple[TimingPlan, Observation]], CityCalibration]


@pytest.fixture(scope="module")
def setting() -> Setting:
    net = corridor(300.0, SIGNAL)
    plan = incumbent(net)
    truth = CityTwin(net, HOUR, DEMAND, MesoParams(speed_factor_mean=0.8, stop_penalty_s=6.0))
    observed = [(plan, truth.run(plan, np.random.SeedSequence(99)))]
    prior = replace(truth, params=MesoParams())  # speed factor 1.0, stop penalty 2.0 s
    cfg = CityCalibration(budget=20, replications=2)
    return prior, observed, cfg


def test_calibration_moves_toward_the_behaviour_that_made_the_data(setting: Setting) -> None:
    prior, observed, cfg = setting
    fit = calibrate(prior, observed, cfg, root=1)
    info = fit.calibration
    assert info["after"] < 0.5 * info["before"]
    assert fit.params.speed_factor_mean < 0.95  # from the prior's 1.0 toward the true 0.8


def test_a_process_pool_fits_what_this_process_fits(setting: Setting) -> None:
    prior, observed, cfg = setting
    here = calibrate(prior, observed, cfg, root=1, executor=SequentialExecutor())
    pool = ProcessExecutor(2)
    try:
        there = calibrate(prior, observed, cfg, root=1, executor=pool)
    finally:
        pool.close()
    assert there.params == here.params
    assert there.calibration["trace"] == here.calibration["trace"]
