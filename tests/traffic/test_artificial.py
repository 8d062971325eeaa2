"""The artificial world (SimPy) and the reference world (IDM): schema, determinism, physics."""

from __future__ import annotations

import numpy as np
import pytest

from parallel.traffic.actual.reference import ReferenceWorld
from parallel.traffic.artificial.behaviours import Buffer, lognormal_headway
from parallel.traffic.artificial.model import simulate
from parallel.traffic.observation import DETECTOR_SCHEMA, VEHICLE_SCHEMA
from parallel.traffic.scenario import Plan
from parallel.traffic.signals import Timing
from parallel.traffic.topology import NetworkConfig, topology
from parallel.traffic.world import WorldSpec


def test_topology_turns() -> None:
    t = topology(NetworkConfig(intersections=2))
    nxt = {
        t.links[i]: [t.links[j] for j in t.next_link[i]]
        for i in range(len(t.links))
        if t.approach[i]
    }
    # heading east from W: left is north, through is the next junction, right is south
    assert nxt["W>J1"] == ["J1>N1", "J1>J2", "J1>S1"]
    assert nxt["N2>J2"] == ["J2>E", "J2>S2", "J2>J1"]
    assert set(t.entry_link) == {"W", "E", "N1", "S1", "N2", "S2"}


def test_timing_phases() -> None:
    tm = Timing(Plan(cycle_s=60, splits=(0.5, 0.5), offset_s=10), lost_time_s=4)
    g, _ = tm.state(5.0, np.array([0, 0]), np.array([0, 1]))
    assert list(g) == [True, False]
    g, _ = tm.state(30.0, np.array([0]), np.array([1]))  # main green 26 s, lost 4, side 30..56
    assert g[0]
    g, _ = tm.state(5.0, np.array([1]), np.array([0]))  # junction 1 runs 10 s behind
    assert not g[0]


def test_buffer_samples_in_batches() -> None:
    calls = []
    base = lognormal_headway(2.0, 0.3)

    def sampler(rng: np.random.Generator, n: int) -> np.ndarray:
        calls.append(n)
        return base(rng, n)

    buf = Buffer(sampler, np.random.default_rng(0), size=1000)
    vals = [buf.next() for _ in range(2500)]
    assert calls == [1000, 1000, 1000]
    assert np.mean(vals) == pytest.approx(2.0, rel=0.05)


def test_artificial_world_schema_and_determinism(tiny_spec: WorldSpec, tiny_params) -> None:  # type: ignore[no-untyped-def]
    a = simulate(tiny_spec, tiny_params, tiny_spec.control.initial, np.random.SeedSequence(3))
    b = simulate(tiny_spec, tiny_params, tiny_spec.control.initial, np.random.SeedSequence(3))
    c = simulate(tiny_spec, tiny_params, tiny_spec.control.initial, np.random.SeedSequence(4))
    assert list(a.vehicles.columns) == list(VEHICLE_SCHEMA)
    assert list(a.detectors.columns) == list(DETECTOR_SCHEMA)
    assert a.vehicles.equals(b.vehicles) and a.kpis == b.kpis
    assert not a.vehicles.equals(c.vehicles)
    assert set(a.kpis) == {
        "mean_delay_s",
        "mean_travel_time_s",
        "p95_travel_time_s",
        "throughput_veh_h",
        "max_queue_veh",
    }
    assert (a.vehicles["delay_s"] >= 0).all()
    assert (a.vehicles["travel_time_s"] >= a.vehicles["delay_s"]).all()
    # throughput close to the demand (1,650 veh/h) in an undersaturated intersection
    assert a.kpis["throughput_veh_h"] == pytest.approx(1650, rel=0.15)


def test_more_green_for_the_busy_street_cuts_its_delay(tiny_spec: WorldSpec, tiny_params) -> None:  # type: ignore[no-untyped-def]
    seed = np.random.SeedSequence(7)
    eq = simulate(tiny_spec, tiny_params, Plan(cycle_s=80, splits=(0.5, 0.5)), seed)
    main = simulate(tiny_spec, tiny_params, Plan(cycle_s=80, splits=(0.7, 0.3)), seed)
    d_eq = eq.vehicles[eq.vehicles.origin == "W"]["delay_s"].mean()
    d_main = main.vehicles[main.vehicles.origin == "W"]["delay_s"].mean()
    assert d_main < d_eq


def test_longer_saturation_headway_means_longer_queues(tiny_spec: WorldSpec, tiny_params) -> None:  # type: ignore[no-untyped-def]
    seed = np.random.SeedSequence(8)
    fast = simulate(tiny_spec, tiny_params, tiny_spec.control.initial, seed)
    slow = simulate(
        tiny_spec,
        tiny_params.with_flat({"saturation_headway_s": 3.0}),
        tiny_spec.control.initial,
        seed,
    )
    assert slow.kpis["mean_delay_s"] > fast.kpis["mean_delay_s"]


def test_reference_world_is_microscopic_and_follows_its_truth(tiny) -> None:  # type: ignore[no-untyped-def]
    spec = WorldSpec.of(tiny)
    world = ReferenceWorld(spec, tiny.actual.truth, 0.5)
    obs = world.observe(tiny.control.initial, np.random.SeedSequence(1))
    again = world.observe(tiny.control.initial, np.random.SeedSequence(1))
    assert obs.vehicles.equals(again.vehicles)
    assert list(obs.vehicles.columns) == list(VEHICLE_SCHEMA)
    counts = obs.detectors.groupby("link")["count"].sum()
    hours = spec.demand.duration_s / 3600
    for origin, rate in tiny.actual.truth.demand.items():
        entry = f"{origin}>J1"
        assert counts[entry] == pytest.approx(rate * hours, rel=0.3), entry
    # every vehicle that stopped has a positive delay
    stopped = obs.vehicles[obs.vehicles.stops > 0]
    assert (stopped["delay_s"] > 0).all()


def test_reusing_a_seed_object_gives_the_same_streams(tiny_spec: WorldSpec, tiny_params) -> None:  # type: ignore[no-untyped-def]
    # common random numbers depend on this: SeedSequence.spawn would hand out new children
    seed = np.random.SeedSequence(11)
    a = simulate(tiny_spec, tiny_params, tiny_spec.control.initial, seed)
    b = simulate(tiny_spec, tiny_params, tiny_spec.control.initial, seed)
    assert a.vehicles.equals(b.vehicles)


def test_links_carry_saturation_flow() -> None:
    t = topology(NetworkConfig(intersections=1, main_lanes=2, side_lanes=1))
    sat = t.saturation_flow(2.0)
    assert sat["W>J1"] == 3600 and sat["N1>J1"] == 1800
    assert "J1>W" not in sat  # exits have no stop line
