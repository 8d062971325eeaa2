"""What the network twin records: waits split across intervals, trips kept to the window."""

from __future__ import annotations

import simpy

from parallel.traffic.artificial.tally import Tally
from tests.traffic.test_meso import corridor


def _tally() -> tuple[simpy.Environment, Tally]:
    env = simpy.Environment()
    net = corridor(100.0, [(30.0, "G"), (30.0, "r")])
    return env, Tally(env, net, [(0, 1, 2)], duration_s=1800.0, interval_s=900.0)


def test_a_wait_across_an_interval_boundary_is_split_between_the_two() -> None:
    _, t = _tally()
    t.waited(1, 850.0, 960.0)
    t.waited(1, 1790.0, 1900.0)  # the part after the window is not kept
    assert t.wait[1] == [50.0, 70.0]


def test_a_trip_that_ends_after_the_window_is_not_recorded() -> None:
    env, t = _tally()

    def trips(env: simpy.Environment) -> simpy.events.ProcessGenerator:
        yield env.timeout(100.0)
        t.crossed(0, 60.0, env.now)
        t.finish(0, 0, 10.0, 1)
        yield env.timeout(1750.0)  # now 1850 s, past the 1800 s window
        t.finish(1, 0, 1700.0, 0)

    env.process(trips(env))
    env.run()
    obs = t.observation(0.1, teleports=0)
    assert obs.vehicles["vehicle_id"].tolist() == [0]
    assert obs.vehicles["travel_time_s"].tolist() == [90.0]
    free = 200 / 13.9 + 100 / 13.9 + 200 / 13.9
    assert abs(obs.vehicles["delay_s"].iloc[0] - (90.0 - free)) < 1e-9
    first = obs.detectors[
        (obs.detectors["link"] == "in") & (obs.detectors["interval_start_s"] == 0)
    ]
    assert first["count"].tolist() == [1]
    # 200 m in 40 s is 18 km/h
    assert abs(first["mean_speed_kmh"].iloc[0] - 18.0) < 1e-9
