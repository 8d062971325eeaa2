"""The artificial world on a network: link storage makes spillback emerge; gridlock teleports."""

from __future__ import annotations

from collections.abc import Generator

import numpy as np
import pandas as pd
import pytest

from parallel.traffic.artificial.lanes import LaneTables
from parallel.traffic.artificial.meso import _Meso, simulate_net
from parallel.traffic.artificial.params import Horizon, MesoParams
from parallel.traffic.demand import RouteDemand
from parallel.traffic.network import Edge, Movement, Phase, Program, RoadNet
from parallel.traffic.timing import incumbent


def corridor(
    mid_length_m: float, states: list[tuple[float, str]], junction_m: float = 0.0
) -> RoadNet:
    """in (200 m) -> mid -> out (200 m); a light at the end of mid, none before it; the
    junction between in and mid has ``junction_m`` of internal lane."""
    edges = (
        Edge("in", "A", "J1", 200.0, 1, 13.9, 1, (0,)),
        Edge("mid", "J1", "J2", mid_length_m, 1, 13.9, 1, (0,)),
        Edge("out", "J2", "B", 200.0, 1, 13.9, 1, (0,)),
    )
    movements = (
        Movement(0, 0, 1, "J1", 1, (0,), "s", None, (), "M", (), ((0, 0),), (junction_m,)),
        Movement(1, 1, 2, "J2", 1, (0,), "s", "T", (0,), "o"),
    )
    program = Program("T", "0", "static", 0.0, tuple(Phase(d, s) for d, s in states))
    return RoadNet(
        file="corridor",
        edges=edges,
        movements=movements,
        programs={"T": program},
        junction_types={"A": "dead_end", "J1": "priority", "J2": "traffic_light", "B": "dead_end"},
        edge_index={"in": 0, "mid": 1, "out": 2},
        out_movements=((0,), (1,), ()),
    )


DEMAND = RouteDemand(((0, 1, 2),), np.array([560.0]), np.ones(4))
HOUR = Horizon(0.0, 3600.0, 900.0)
SIGNAL = [(30.0, "G"), (3.0, "y"), (60.0, "r")]


def _run(net: RoadNet, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    obs = simulate_net(
        net, incumbent(net), DEMAND, MesoParams(), HOUR, np.random.SeedSequence(seed)
    )
    return obs.vehicles, obs.detectors, obs.meta


def test_a_short_link_spills_its_queue_back_upstream() -> None:
    _, det_short, _ = _run(corridor(14.0, SIGNAL))  # mid holds 2 vehicles
    _, det_long, _ = _run(corridor(400.0, SIGNAL))  # mid holds 57
    wait_in = {
        name: d[d.link == "in"].queue_veh.mean()
        for name, d in (("short", det_short), ("long", det_long))
    }
    # "in" has no signal of its own: vehicles wait on it only when "mid" is full
    assert wait_in["long"] < 0.05
    assert wait_in["short"] > 1.0
    # and the queue on "mid" itself can never exceed what the link holds
    assert det_short[det_short.link == "mid"].queue_veh.max() <= 2.0


def test_a_junction_stores_vehicles_on_its_internal_lanes() -> None:
    net = corridor(14.0, SIGNAL, junction_m=35.0)  # mid: 2 vehicles, 7 with its junction
    assert LaneTables.of(net, 7.0, junction_storage=True).lane_cap[1] == 7
    assert LaneTables.of(net, 7.0).lane_cap[1] == 2
    queues = {}
    for on in (False, True):
        obs = simulate_net(
            net, incumbent(net), DEMAND, MesoParams(junction_storage=on), HOUR,
            np.random.SeedSequence(3),
        )  # fmt: skip
        det = obs.detectors
        queues[on] = (
            det[det.link == "mid"].queue_veh.max(),
            det[det.link == "in"].queue_veh.mean(),
        )
    # the queue behind the light stands on mid and its junction (5 more vehicles), and
    # fewer of them wait on "in"
    assert queues[False][0] <= 2.0 < queues[True][0] <= 7.0
    assert queues[True][1] < queues[False][1] - 2.0


def test_gridlock_is_resolved_by_teleport_and_counted() -> None:
    veh, det, meta = _run(corridor(14.0, [(90.0, "r")]))  # the light never turns green
    # as in SUMO, waiting at a red light is not a jam; but the vehicles on "in", blocked
    # by a full "mid" for the teleport time, jump ahead, and each jump is counted
    assert meta["teleports"] > 0 and len(veh) == 0
    assert det[det.link == "mid"].queue_veh.max() > 2.0  # over its storage: the jumps
    _, _, calm = _run(corridor(400.0, SIGNAL))
    assert calm["teleports"] == 0


def test_green_discharges_at_the_saturation_headway() -> None:
    net = corridor(400.0, [(3600.0, "G")])
    heavy = RouteDemand(((0, 1, 2),), np.array([3000.0]), np.ones(4))
    obs = simulate_net(
        net, incumbent(net), heavy, MesoParams(saturation_headway_s=2.5), HOUR,
        np.random.SeedSequence(1),
    )  # fmt: skip
    # one lane at 2.5 s discharges 1,440 veh/h at most, whatever arrives
    assert 1300 < obs.kpis["throughput_veh_h"] <= 1440 + 5


def test_same_seed_same_records() -> None:
    a, da, _ = _run(corridor(14.0, SIGNAL), seed=7)
    b, db, _ = _run(corridor(14.0, SIGNAL), seed=7)
    c, _, _ = _run(corridor(14.0, SIGNAL), seed=8)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(da, db)
    assert not a.equals(c)


def test_a_vehicle_that_waits_through_several_reds_stops_each_time() -> None:
    # 700 veh/h against a light that serves at most 30 s of 93 (about 430 veh/h at 2.5 s):
    # the queue grows, and a vehicle far back halts once per red it waits through, as
    # SUMO's waitingCount counts it
    net = corridor(400.0, SIGNAL)
    over = RouteDemand(((0, 1, 2),), np.array([700.0]), np.ones(4))
    p = MesoParams(saturation_headway_s=2.5)
    veh = simulate_net(net, incumbent(net), over, p, HOUR, np.random.SeedSequence(2)).vehicles
    long_wait = veh[veh.delay_s > 3 * 93]
    assert len(long_wait) > 20
    assert long_wait.stops.min() >= 3  # at least one halt per cycle waited through
    light = RouteDemand(((0, 1, 2),), np.array([100.0]), np.ones(4))
    calm = simulate_net(net, incumbent(net), light, p, HOUR, np.random.SeedSequence(2)).vehicles
    # one red at most: a stop, and one more if it joined a queue just before the red
    assert calm.stops.max() <= 2 and calm.stops.mean() < 1


def test_a_queue_runs_into_the_amber_only_as_long_as_told() -> None:
    net = corridor(400.0, SIGNAL)
    over = RouteDemand(((0, 1, 2),), np.array([700.0]), np.ones(4))
    out = {}
    for amber in (0.0, 0.5, 2.5):
        p = MesoParams(saturation_headway_s=2.5, amber_used_s=amber)
        obs = simulate_net(net, incumbent(net), over, p, HOUR, np.random.SeedSequence(2))
        out[amber] = int(obs.detectors[obs.detectors.link == "mid"]["count"].sum())
    # the saturated queue's last vehicle of a green reaches the line 2 s into the amber
    # (start-up 2 s, then every 2.5 s): half a second of amber lets nobody more through,
    # 2.5 s lets one more per cycle (38 full cycles in the hour)
    assert out[0.5] == out[0.0]
    assert 36 <= out[2.5] - out[0.0] <= 39


def _turn_junction() -> RoadNet:
    """A single-lane approach "in" that goes straight to "out" or turns left to "side",
    and an opposing approach "opp" whose straight stream the left turn yields to; both
    approaches see the same permanent green (the turn is permissive, ``g``)."""
    edges = (
        Edge("in", "A", "J", 200.0, 1, 13.9, 1, (0,)),
        Edge("out", "J", "B", 200.0, 1, 13.9, 1, (0,)),
        Edge("side", "J", "C", 200.0, 1, 13.9, 1, (0,)),
        Edge("opp", "B2", "J", 200.0, 1, 13.9, 1, (0,)),
        Edge("out2", "J", "A2", 200.0, 1, 13.9, 1, (0,)),
    )
    movements = (
        Movement(0, 0, 1, "J", 1, (0,), "s", "T", (0,), "o"),
        Movement(1, 0, 2, "J", 1, (0,), "l", "T", (1,), "o", (2,)),
        Movement(2, 3, 4, "J", 1, (0,), "s", "T", (2,), "o"),
    )
    program = Program("T", "0", "static", 0.0, (Phase(3600.0, "GgG"),))
    return RoadNet(
        file="turn",
        edges=edges,
        movements=movements,
        programs={"T": program},
        junction_types={n: "dead_end" for n in ("A", "B", "C", "B2", "A2")}
        | {"J": "traffic_light"},
        edge_index={e.id: i for i, e in enumerate(edges)},
        out_movements=((0, 1), (), (), (2,), ()),
    )


def test_a_waiting_left_turner_blocks_its_lane_unless_it_may_wait_inside() -> None:
    net = _turn_junction()
    # 10% turn left against an opposing stream of 900 veh/h: gaps of 6 s are rare
    demand = RouteDemand(((0, 1), (0, 2), (3, 4)), np.array([450.0, 50.0, 900.0]), np.ones(4))
    through = {}
    for slots in (0, 1):
        p = MesoParams(critical_gap_s=6.0, inside_slots=slots)
        veh = simulate_net(net, incumbent(net), demand, p, HOUR, np.random.SeedSequence(4)).vehicles
        through[slots] = veh[(veh.origin == "in") & (veh.destination == "out")].delay_s.mean()
    # with nowhere to wait but the stop line, every turner holds up the through traffic
    # behind it; one slot inside the junction lets the lane flow on
    assert through[0] > 2 * through[1]


def test_permissive_turners_follow_each_other_at_the_follow_up_headway() -> None:
    """A permissive turn with nothing coming the other way still yields (it must look):
    its saturated queue discharges one vehicle per follow-up headway, where a protected
    stream discharges at the saturation headway; a follow-up of 0 falls back to it."""
    net = _turn_junction()
    turners = RouteDemand(((0, 2),), np.array([3000.0]), np.ones(4))
    rate = {}
    for tf in (0.0, 3.0):
        p = MesoParams(saturation_headway_s=2.0, follow_up_s=tf)
        obs = simulate_net(net, incumbent(net), turners, p, HOUR, np.random.SeedSequence(5))
        rate[tf] = obs.kpis["throughput_veh_h"]
    assert 1700 < rate[0.0] <= 1800 + 5  # 3,600 / 2.0 s
    assert 1100 < rate[3.0] <= 1200 + 5  # 3,600 / 3.0 s


def _crossing() -> RoadNet:
    """A major street a -> b crossed by a minor street c -> d that yields to it, no signal."""
    edges = (
        Edge("a", "A", "J", 300.0, 1, 13.9, 2, (0,)),
        Edge("b", "J", "B", 300.0, 1, 13.9, 2, (0,)),
        Edge("c", "C", "J", 300.0, 1, 13.9, 1, (0,)),
        Edge("d", "J", "D", 300.0, 1, 13.9, 1, (0,)),
    )
    movements = (
        Movement(0, 0, 1, "J", 1, (0,), "s", None, (), "M"),
        Movement(1, 2, 3, "J", 1, (0,), "s", None, (), "m", (0,)),
    )
    return RoadNet(
        file="crossing",
        edges=edges,
        movements=movements,
        programs={},
        junction_types={
            "A": "dead_end",
            "B": "dead_end",
            "C": "dead_end",
            "D": "dead_end",
            "J": "priority",
        },  # fmt: skip
        edge_index={e.id: i for i, e in enumerate(edges)},
        out_movements=((0,), (), (1,), ()),
    )


def test_a_saturated_minor_stream_uses_every_gap_exactly() -> None:
    """Gap acceptance, checked gap by gap on the records: a minor vehicle goes the moment
    the critical gap has passed since the last major vehicle, the next one a follow-up
    headway later, for as long as no major vehicle comes: ceil((g - tc) / tf) of them in
    a gap of g > tc, none in a shorter one (the count behind Siegloch's capacity formula).
    Without a signal the gap is the minor street's (``minor_gap_s``), not a permissive
    turn's, and the headway between minor vehicles is the follow-up headway
    (``follow_up_s``), not the saturation headway."""
    tc, tf = 5.0, 2.0
    p = MesoParams(
        minor_gap_s=tc, critical_gap_s=3.0, saturation_headway_s=1.0, follow_up_s=tf,
        speed_factor_sd=0.0, stop_penalty_s=0.0, minor_loss_s=0.0,
    )  # fmt: skip
    demand = RouteDemand(((0, 1), (2, 3)), np.array([900.0, 2000.0]), np.ones(4))
    veh = simulate_net(
        _crossing(), incumbent(_crossing()), demand, p, HOUR, np.random.SeedSequence(2)
    ).vehicles
    # every vehicle drives its last 300 m edge at 13.9 m/s: its time at the junction
    at_j = veh.exit_time_s - 300.0 / 13.9
    major = np.sort(at_j[veh.origin == "a"].to_numpy())
    minor = np.sort(at_j[veh.origin == "c"].to_numpy())
    gaps = np.diff(major)
    inside = np.searchsorted(major, minor)  # minor k passes in gap inside[k] - 1
    got = np.bincount(inside, minlength=len(major) + 1)[1 : len(major)]
    want = np.where(gaps > tc, np.ceil((gaps - tc) / tf - 1e-9), 0)
    busy = major[:-1] > 300.0  # the minor street is queued from five minutes on
    assert busy.sum() > 500 and (got[busy] == want[busy]).all()
    # and no minor vehicle ever goes within the critical gap after a major one
    last = major[np.maximum(inside - 1, 0)]
    assert (minor[inside > 0] - last[inside > 0] >= tc - 1e-6).all()


def _funnel() -> RoadNet:
    """Two lanes "in" (200 m) lead lane by lane onto a 10 m "short" edge, whose lane 1
    turns left ("left", 10 s of green in 90 s) and lane 0 right ("right", always green):
    a left-bound vehicle in lane 0 of "in" cannot cross over on "short" in time."""
    edges = (
        Edge("in", "A", "J1", 200.0, 2, 13.9, 1, (0, 1)),
        Edge("short", "J1", "J2", 10.0, 2, 13.9, 1, (0, 1)),
        Edge("left", "J2", "L", 200.0, 1, 13.9, 1, (0,)),
        Edge("right", "J2", "R", 200.0, 1, 13.9, 1, (0,)),
    )
    movements = (
        Movement(0, 0, 1, "J1", 2, (0, 1), "s", None, (), "M", (), ((0, 0), (1, 1))),
        Movement(1, 1, 2, "J2", 1, (1,), "l", "T", (0,), "o", (), ((1, 0),)),
        Movement(2, 1, 3, "J2", 1, (0,), "r", "T", (1,), "o", (), ((0, 0),)),
    )
    program = Program("T", "0", "static", 0.0, (Phase(10.0, "GG"), Phase(80.0, "rG")))
    return RoadNet(
        file="funnel",
        edges=edges,
        movements=movements,
        programs={"T": program},
        junction_types={"A": "dead_end", "J1": "priority", "J2": "traffic_light"}
        | {"L": "dead_end", "R": "dead_end"},
        edge_index={e.id: i for i, e in enumerate(edges)},
        out_movements=((0,), (1, 2), (), ()),
    )


def test_a_route_uses_the_lanes_it_can_leave_by() -> None:
    net = _funnel()
    tables = LaneTables.of(net, 7.0)
    route, movs = (0, 1, 2), [0, 1]  # in -> short -> left
    lane = {(e, k): tables.lane_id[(e, k)] for e, k in tables.lane_id}
    # no lane changing modelled: any lane of "in" feeds "short"
    assert tables.route_lanes(net, route, movs, 0.0)[0] == [lane[(0, 0)], lane[(0, 1)]]
    # 10 m of "short" is too little to cross from lane 0 to lane 1 at 50 m a lane, enough
    # at 10 m a lane
    assert tables.route_lanes(net, route, movs, 50.0) == [
        [lane[(0, 1)]],
        [lane[(1, 1)]],
        [lane[(2, 0)]],
    ]
    assert tables.route_lanes(net, route, movs, 10.0)[0] == [lane[(0, 0)], lane[(0, 1)]]


def test_traffic_lines_up_in_the_lanes_that_lead_on() -> None:
    net = _funnel()
    # 400 veh/h turn left where 10 s of green in 90 s serve about 240: their queue grows
    demand = RouteDemand(((0, 1, 2), (0, 1, 3)), np.array([400.0, 300.0]), np.ones(4))
    right, left_lanes = {}, {}
    for lc in (0.0, 50.0):
        p = MesoParams(lane_change_m=lc)
        obs = simulate_net(net, incumbent(net), demand, p, HOUR, np.random.SeedSequence(2))
        veh = obs.vehicles
        right[lc] = veh[veh.destination == "right"].delay_s.mean()
        left_lanes[lc] = obs.detectors[obs.detectors.link == "in"].queue_veh.max()
    # lanes chosen by the next movement alone: the left-bound queue fills both lanes of
    # "in" and holds up the right-bound vehicles behind it
    assert right[0.0] > 100
    # lanes chosen by where the connections lead: the left-bound queue stands in lane 1
    # only, lane 0 stays free for the right-bound traffic, and "in" stores half as many
    assert right[50.0] < 20
    assert left_lanes[50.0] <= 29 < left_lanes[0.0]


def _merge(minor_to: int = 2) -> RoadNet:
    """A major street "a" and a minor street "c" merge, without a signal, onto a 14 m
    edge "b" (two vehicles) that ends at a light (30 s of green in 93 s) before "out".
    ``minor_to`` 4: the minor street crosses "a" to "d" instead of merging."""
    edges = (
        Edge("a", "A", "J", 300.0, 1, 13.9, 1, (0,)),
        Edge("c", "C", "J", 300.0, 1, 13.9, 1, (0,)),
        Edge("b", "J", "K", 14.0, 1, 13.9, 1, (0,)),
        Edge("out", "K", "B", 300.0, 1, 13.9, 1, (0,)),
        Edge("d", "J", "D", 300.0, 1, 13.9, 1, (0,)),
    )
    movements = (
        Movement(0, 0, 2, "J", 1, (0,), "s", None, (), "M"),
        Movement(1, 1, minor_to, "J", 1, (0,), "r", None, (), "m", (0,)),
        Movement(2, 2, 3, "K", 1, (0,), "s", "T", (0,), "o"),
    )
    program = Program("T", "0", "static", 0.0, tuple(Phase(d, s) for d, s in SIGNAL))
    return RoadNet(
        file="merge",
        edges=edges,
        movements=movements,
        programs={"T": program},
        junction_types={"A": "dead_end", "C": "dead_end", "J": "priority"}
        | {"K": "traffic_light", "B": "dead_end", "D": "dead_end"},
        edge_index={e.id: i for i, e in enumerate(edges)},
        out_movements=((0,), (1,), (2,), (), ()),
    )


def _merge_at_60s(net: RoadNet, params: MesoParams) -> _Meso:
    """A world on ``net`` with one major vehicle an hour, run to t = 60 s: its rules can
    then be asked about a state the test sets up."""
    demand = RouteDemand(((0, 2, 3),), np.array([1.0]), np.ones(4))
    w = _Meso(net, incumbent(net), demand, params, HOUR, np.random.SeedSequence(1))
    w.env.run(until=60.0)
    return w


def test_only_a_queued_stream_the_minor_street_merges_with_holds_it_back() -> None:
    """With ``minor_yields_to_queue``, a major vehicle queued for the edge the minor
    street enters too holds it back; one queued for somewhere else (a crossing stream
    blocked downstream) does not, once the gap since the last major vehicle is long."""
    for minor_to, held in ((2, True), (4, False)):
        w = _merge_at_60s(_merge(minor_to), MesoParams(minor_yields_to_queue=True))
        w.waiting[0] = 1  # a major vehicle stands queued on "a"
        assert w._may_pass(1) is not held, minor_to
        w.waiting[0] = 0
        assert w._may_pass(1)


def test_a_yielding_vehicle_judges_the_gap_ahead_with_gap_ahead_s() -> None:
    """With ``gap_ahead_s``, a minor vehicle also waits for a major vehicle that will
    reach the junction within that time, however long ago the last one passed; a major
    vehicle further off, or none, does not hold it back. Without it, only the gap
    behind counts."""
    for ahead in (0.0, 4.0):
        w = _merge_at_60s(_merge(), MesoParams(gap_ahead_s=ahead))
        w.last_pass[0] = 0.0  # the last major vehicle passed a minute ago
        assert w._may_pass(1)
        w._coming(0, 62.0)  # the next one reaches the junction in 2 s
        assert w._may_pass(1) is (ahead == 0.0), ahead
        if ahead:
            assert w._gap_wait(1) == pytest.approx(2.0)  # until it is there
            w.env.run(until=62.5)  # it has arrived: nothing is coming any more
            assert w._may_pass(1)
            w._coming(0, 67.0)  # 4.5 s off: far enough
            assert w._may_pass(1)


def test_judging_the_gap_ahead_makes_a_minor_street_wait_longer() -> None:
    """A minor street crossing a steady major stream: gaps that the next major vehicle
    would cut short are refused, so the minor street waits longer on every seed, and
    the major street is not slowed."""
    net = _merge(4)
    demand = RouteDemand(((0, 2, 3), (1, 4)), np.array([500.0, 150.0]), np.ones(4))
    for seed in (6, 7, 8):
        d = {}
        for ahead in (0.0, 4.0):
            p = MesoParams(gap_ahead_s=ahead)
            obs = simulate_net(net, incumbent(net), demand, p, HOUR, np.random.SeedSequence(seed))
            d[ahead] = obs.vehicles.groupby("origin").delay_s.mean()
        assert d[4.0]["c"] > 1.1 * d[0.0]["c"], seed
        assert d[4.0]["a"] == pytest.approx(d[0.0]["a"], abs=0.5), seed


def test_a_minor_street_waits_while_the_major_street_queues_for_the_same_room() -> None:
    """Room on the edge both streets enter goes to the major street first: a minor
    vehicle does not take it while a major vehicle waits for it, as in SUMO, where the
    waiting major vehicle keeps its claim on the junction. The minor street waits
    longer on every seed, and the major street never longer."""
    net = _merge()
    demand = RouteDemand(((0, 2, 3), (1, 2, 3)), np.array([250.0, 150.0]), np.ones(4))
    delay: dict[bool, list[pd.Series]] = {False: [], True: []}
    for seed in (6, 7, 8):
        for strict in (False, True):
            p = MesoParams(minor_yields_to_queue=strict)
            obs = simulate_net(net, incumbent(net), demand, p, HOUR, np.random.SeedSequence(seed))
            delay[strict].append(obs.vehicles.groupby("origin").delay_s.mean())
    for off, on in zip(delay[False], delay[True]):
        assert on["c"] > 1.1 * off["c"]
        assert on["a"] <= off["a"] + 0.5


def test_keep_right_takes_the_rightmost_lane_until_another_is_shorter_by_enough() -> None:
    """0: the least occupied lane (the rightmost among equals); k > 0: the rightmost
    lane unless it holds more than k vehicles above the least occupied one."""
    net = _funnel()
    lanes = [0, 1]  # "in"'s lanes, the rightmost first
    for k, occ, want in ((0, [3, 0], 1), (0, [0, 0], 0), (5, [3, 0], 0), (2, [3, 0], 1)):
        p = MesoParams(keep_right_veh=k)
        w = _Meso(net, incumbent(net), DEMAND, p, HOUR, np.random.SeedSequence(1))
        w.occ[:2] = occ
        assert w._pick(lanes) == want, (k, occ)


def _watch_occupancy(w: _Meso, lane: int, most: list[int]) -> Generator:
    """Keep in ``most[0]`` the most vehicles ``lane`` held at any half second."""
    while True:
        most[0] = max(most[0], w.occ[lane])
        yield w.env.timeout(0.5)


def test_a_vehicle_that_lands_in_a_lane_that_does_not_lead_on_changes_there() -> None:
    """Left-bound traffic only: from lane 0 of "in" its connection lands on lane 0 of
    "short", which does not turn left, so the vehicle stands there until it can change
    into lane 1. Without ``lane_connections`` it is put straight into lane 1 and lane 0
    of "short" never holds anyone."""
    net = _funnel()
    demand = RouteDemand(((0, 1, 2),), np.array([150.0]), np.ones(4))
    held, done = {}, {}
    for on in (False, True):
        w = _Meso(
            net, incumbent(net), demand, MesoParams(lane_connections=on), HOUR,
            np.random.SeedSequence(2),
        )  # fmt: skip
        seen = [0]
        w.env.process(_watch_occupancy(w, w.lane_id[(1, 0)], seen))
        done[on] = len(w.run().vehicles)
        held[on] = seen[0]
    assert held[False] == 0
    assert held[True] == 1  # one at a time: it holds the lane while it changes
    assert done[True] >= done[False]  # and the left turn still flows


def test_an_edge_mean_speed_is_distance_over_time_as_sumo_reports_it() -> None:
    """SUMO's edgeData speed is the distance driven over the time spent on the edge, so
    the vehicles that wait through a red weigh in by their waiting; an average of each
    vehicle's own speed would count a car that passed on green as much as one that
    waited a minute."""
    net = corridor(400.0, SIGNAL)
    free = MesoParams(speed_factor_sd=0.0, stop_penalty_s=0.0, depart_loss_s=0.0)
    obs = simulate_net(net, incumbent(net), DEMAND, free, HOUR, np.random.SeedSequence(5))
    mid = obs.detectors[obs.detectors.link == "mid"]
    n = float(mid["count"].sum())
    secs = float((mid["count"] * 400.0 * 3.6 / mid["mean_speed_kmh"]).sum())
    # time on "mid": the free drive (no losses on a major straight) plus the wait at the light
    driven = n * 400.0 / 13.9 + float(mid["queue_veh"].sum()) * 900.0
    assert secs == pytest.approx(driven, rel=0.03)
    assert 3.6 * 400.0 * n / secs < 0.8 * 50.0  # the waiting shows: well below free speed


def test_an_actuated_green_holds_while_a_queue_stands_on_its_detector() -> None:
    """SUMO's loop sits DETECTOR_GAP_S at the speed limit before the stop line, or nearer
    where the shortest green (5 s here) would not clear the cars between it and the line
    (MSActuatedTrafficLightLogic: (5 / 1.9 + 0.5) cars of 7.5 m, 23.5 m), and reports no
    gap while a vehicle stands on it: a queue that reaches back to it holds the green,
    however slowly it discharges; a shorter one leaves the last detection's time."""
    from parallel.traffic.artificial.lights import (
        DETECTOR_GAP_S,
        SUMO_CAR_WITH_GAP_M,
        SUMO_PASSING_TIME_S,
    )
    from parallel.traffic.artificial.meso import _Meso
    from parallel.traffic.control import make_control

    for mid_m in (400.0, 14.0):
        net = corridor(mid_m, SIGNAL)
        plan = make_control(net, policy="actuated")
        params = MesoParams(jam_spacing_m=7.0)
        world = _Meso(net, plan, DEMAND, params, HOUR, np.random.SeedSequence(1))
        lane = world.edge_lanes[1][0]
        reach = min(
            DETECTOR_GAP_S * 13.9, (5 / SUMO_PASSING_TIME_S + 0.5) * SUMO_CAR_WITH_GAP_M, mid_m
        )
        assert world.detector_m[lane] == pytest.approx(reach)
        world.env.run(until=100.0)
        world.seen[lane] = 40.0
        world.queues[lane].clear()  # whatever the first 100 s left there
        standing = int(np.ceil(reach / 7.0))  # the queue whose tail is on the detector
        world.queues[lane].extend([(world.env.event(), 1, [], 40.0)] * (standing - 1))
        assert world._last_detection([lane]) == 40.0
        world.queues[lane].append((world.env.event(), 1, [], 40.0))
        assert world._last_detection([lane]) == 100.0


def test_a_vehicle_let_go_before_the_window_ends_is_counted_where_it_left() -> None:
    """A queued vehicle's process wakes next at the end of its drive on the next edge;
    what it leaves behind (its count, its wait) is tallied when its queue lets it go, so a
    release in the last seconds of the window counts though the drive ends after it."""
    net = corridor(400.0, [(3590.0, "r"), (10.0, "G")])  # green only from 3,590 s
    obs = simulate_net(net, incumbent(net), DEMAND, MesoParams(), HOUR, np.random.SeedSequence(2))
    mid = obs.detectors[obs.detectors.link == "mid"].set_index("interval_start_s")
    # 2 s of start-up loss, then one vehicle every 2 s: 3,592, 3,594, 3,596 and 3,598 s
    assert mid.loc[2700.0, "count"] == 4
    assert mid.loc[[0.0, 900.0, 1800.0], "count"].sum() == 0
    # and each of them waited on mid in the last interval
    assert mid.loc[2700.0, "queue_veh"] > 4 * 0.9
