"""Demand without the route file: route flows from counts and probes (routeSampler's idea)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from parallel.core.errors import DataError
from parallel.traffic import demand
from parallel.traffic.demand import RouteDemand, candidate_routes, entries_and_exits, estimate
from parallel.traffic.network import read_net
from tests.conftest import ROOT

pytest.importorskip("sumolib")
RESCO = ROOT / "scenarios" / "data" / "resco"


def test_departures_follow_rates_and_profile() -> None:
    d = RouteDemand(((0, 1), (2,)), np.array([600.0, 60.0]), np.array([0.5, 1.5]))
    t, r = d.departures(np.random.default_rng(0), 3600.0, 1800.0)
    assert np.all(np.diff(t) >= 0) and t.max() < 3600
    n0 = (r == 0).sum()
    assert 500 < n0 < 700 and 30 < (r == 1).sum() < 95
    first_half = ((r == 0) & (t < 1800)).sum()
    assert first_half < 0.4 * n0  # the profile puts a quarter of the flow in the first half


def test_candidates_reach_every_exit_of_a_real_network() -> None:
    net = read_net(RESCO / "cologne8" / "cologne8.net.xml")
    entries, exits = entries_and_exits(net)
    assert entries and exits
    routes = candidate_routes(net)
    assert {r[0] for r in routes} <= set(entries) and {r[-1] for r in routes} <= set(exits)
    for r in routes[:50]:  # every consecutive pair is a movement of the network
        assert all(net.movement(a, b) is not None for a, b in zip(r, r[1:]))


def _observation(net, routes: list[tuple[int, ...]], flows: list[float], seed: int):  # type: ignore[no-untyped-def]
    """Counts per edge (one 15-minute interval each) and a probe sample, from known flows."""
    rng = np.random.default_rng(seed)
    n = rng.poisson(np.array(flows) / 4)  # a quarter hour
    counts: dict[str, int] = {}
    probes = []
    for r, k in zip(routes, n):
        for e in r:
            counts[net.edges[e].id] = counts.get(net.edges[e].id, 0) + int(k)
        for i in range(int(k)):
            if rng.random() < 0.2:
                probes.append((f"v{len(probes)}", float(i), " ".join(net.edges[e].id for e in r)))
    det = pd.DataFrame(
        {"link": list(counts), "interval_start_s": 0.0, "count": list(counts.values())}
    )
    return det, pd.DataFrame(probes, columns=["vehicle_id", "depart_s", "route"])


def test_flows_are_recovered_from_counts_and_probes() -> None:
    net = read_net(RESCO / "cologne8" / "cologne8.net.xml")
    routes = candidate_routes(net)[::40][:12]
    truth = np.linspace(100, 400, len(routes))
    det, probes = _observation(net, routes, list(truth), 1)
    d = estimate(net, det, probes, 0.2, 900.0, 900.0)
    got = {r: x for r, x in zip(d.routes, d.rates_veh_h)}
    # the counted edges are fitted closely...
    assert d.info["count_fit_rmsn"] < 0.1
    # ...and the total flow is close to the truth
    assert sum(got.values()) == pytest.approx(truth.sum(), rel=0.15)


def test_a_probe_on_a_missing_edge_names_the_row(tmp_path: Path) -> None:
    net = read_net(RESCO / "cologne1" / "cologne1.net.xml")
    det = pd.DataFrame({"link": [net.edges[0].id], "interval_start_s": [0.0], "count": [5]})
    probes = pd.DataFrame({"vehicle_id": ["a"], "depart_s": [0.0], "route": ["no_such_edge"]})
    with pytest.raises(DataError, match="probe row 1: edge 'no_such_edge' is not in the network"):
        estimate(net, det, probes, 0.1, 900.0, 900.0)


def test_the_estimated_demand_as_sumo_flows() -> None:
    import defusedxml.ElementTree as DET

    from parallel.traffic.demand import routes_xml

    net = read_net(RESCO / "cologne1" / "cologne1.net.xml")
    d = RouteDemand(((0,), (1,)), np.array([360.0, 36.0]), np.array([0.5, 1.5]))
    root = DET.fromstring(routes_xml(net, d, begin_s=100.0, interval_s=900.0))
    routes = {r.get("id"): r.get("edges") for r in root.iter("route")}
    assert routes == {"r0": net.edges[0].id, "r1": net.edges[1].id}
    flows = [(f.get("route"), float(f.get("begin")), f.get("period")) for f in root.iter("flow")]
    # per route and interval, Poisson at flow x profile (veh/s), sorted by begin for SUMO
    assert flows == [
        ("r0", 100.0, "exp(0.05000000)"), ("r1", 100.0, "exp(0.00500000)"),
        ("r0", 1000.0, "exp(0.15000000)"), ("r1", 1000.0, "exp(0.01500000)"),
    ]  # fmt: skip


def test_per_interval_flows_follow_each_route_own_time_profile() -> None:
    """Route A runs only in the first quarter hour, route B only in the second: fitted to
    each interval's counts, each route gets its own profile; fitted to the hour's, both
    share one."""
    net = read_net(RESCO / "cologne8" / "cologne8.net.xml")
    cands = candidate_routes(net)
    a = cands[0]
    b = next(r for r in cands if not set(r) & set(a))
    frames, probes = [], []
    for k, route in enumerate((a, b)):
        det, pr = _observation(net, [route], [800.0], k)
        frames.append(det.assign(interval_start_s=900.0 * k))
        probes.append(
            pr.assign(vehicle_id=pr["vehicle_id"] + f"_{k}", depart_s=pr["depart_s"] + 900 * k)
        )
    # every other counted edge saw nothing: zero counts are observations too
    seen = set(pd.concat(frames)["link"])
    zeros = [(e, 900.0 * k, 0) for e in seen for k in (0, 1)]
    det = pd.concat([*frames, pd.DataFrame(zeros, columns=["link", "interval_start_s", "count"])])
    det = det.groupby(["link", "interval_start_s"], as_index=False)["count"].sum()
    pr = pd.concat(probes, ignore_index=True)
    shared = estimate(net, det, pr, 0.2, 1800.0, 900.0)
    own = estimate(net, det, pr, 0.2, 1800.0, 900.0, per_interval=True)
    assert shared.profile.ndim == 1 and own.profile.shape == (2, len(own.routes))
    ia, ib = own.routes.index(a), own.routes.index(b)
    assert own.profile[0, ia] > 1.7 and own.profile[1, ia] < 0.3
    assert own.profile[1, ib] > 1.7 and own.profile[0, ib] < 0.3
    # the departures follow them: route A's vehicles leave in the first quarter hour
    t, r = own.departures(np.random.default_rng(0), 1800.0, 900.0)
    assert np.mean(t[r == ia] < 900) > 0.85 and np.mean(t[r == ib] >= 900) > 0.85
    t, r = shared.departures(np.random.default_rng(0), 1800.0, 900.0)
    sa = shared.routes.index(a)
    assert np.mean(t[r == sa] < 900) < 0.7


def test_an_edge_where_trips_start_gets_its_counted_flow() -> None:
    """Trips that start inside the network, on an edge that no probe reported and no
    fastest entry-exit path crosses: the edge becomes a source of candidate routes, so
    its count is fitted instead of left at zero."""
    net = read_net(RESCO / "cologne8" / "cologne8.net.xml")
    cands = candidate_routes(net)
    covered = {e for r in cands for e in r}
    entries, _ = entries_and_exits(net)
    inner = next(
        r
        for e in range(len(net.edges))
        if e not in covered and e not in entries
        for r in candidate_routes(net, sources={e})
        if r[0] == e
    )
    routes = [inner, *cands[::60][:6]]
    det, probes = _observation(net, routes, [240.0] * len(routes), 3)
    start = net.edges[inner[0]].id
    probes = probes[~probes["route"].str.startswith(start + " ")]  # no probe saw them
    d = estimate(net, det, probes, 0.2, 900.0, 900.0)
    through = sum(x for r, x in zip(d.routes, d.rates_veh_h) if inner[0] in r)
    counted = 4.0 * float(det.loc[det["link"] == start, "count"].iloc[0])
    assert d.info["short_edges"] >= 1
    assert through == pytest.approx(counted, rel=0.2)


def test_a_large_fit_reaches_the_bounded_least_squares_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Above LARGE_FIT routes the flows come from L-BFGS-B (seconds where lsq_linear took
    minutes on a 144-signal city); on the same problem it must reach lsq_linear's
    objective and flows, with every flow non-negative."""
    rng = np.random.default_rng(5)
    n_edges, n_routes = 60, 400
    cols = [rng.choice(n_edges, size=rng.integers(2, 8), replace=False) for _ in range(n_routes)]
    rows = np.concatenate(cols)
    a = sparse.csr_matrix(
        (np.ones(len(rows)), (rows, np.repeat(np.arange(n_routes), [len(c) for c in cols]))),
        (n_edges, n_routes),
    )
    truth = rng.gamma(0.5, 20.0, n_routes) * (rng.random(n_routes) < 0.5)
    counts = rng.poisson(a @ truth).astype(float)
    prior = np.where(rng.random(n_routes) < 0.3, truth, 0.0)

    small = demand._fit(a, counts, prior, 0.3)  # lsq_linear: 400 routes <= LARGE_FIT

    def objective(x: np.ndarray) -> float:
        w = 1.0 / np.sqrt(np.maximum(counts, 10.0))
        sigma = np.sqrt(np.maximum(prior, 10.0))
        return float(np.sum((w * (a @ x - counts)) ** 2) + 0.3 * np.sum(((x - prior) / sigma) ** 2))

    monkeypatch.setattr(demand, "LARGE_FIT", 100)  # the same problem, the large path
    large = demand._fit(a, counts, prior, 0.3)
    assert (large >= 0).all()
    assert objective(large) <= objective(small) * (1 + 1e-7)
    assert np.abs(large - small).max() < 0.01 * max(small.max(), 1.0)
    assert np.abs(a @ large - a @ small).max() < 0.01


def test_trips_that_start_inside_follow_the_probes_not_the_counts() -> None:
    """Counts cannot tell a trip that starts on an interior edge from one that drives onto
    it. With the probes' trip ends as rows of their own (entries and exits excluded: their
    departures are their counts), the estimate starts as many trips on each interior edge
    as the probes say, within their sampling error."""
    net = read_net(RESCO / "cologne8" / "cologne8.net.xml")
    entries, exits = entries_and_exits(net)
    inner = [e for e in range(len(net.edges)) if e not in entries][::7][:6]
    routes = [r for e in inner for r in candidate_routes(net, sources={e}) if r[0] == e][::5]
    routes += candidate_routes(net)[::50][:6]
    det, probes = _observation(net, routes, [320.0] * len(routes), 4)
    probe_routes = demand.parse_probes(net, probes, "probes")
    ends = demand._end_rows(net, list(dict.fromkeys(probe_routes)), probe_routes, 0.2, 0.25)
    starts = {r[0] for r in probe_routes} - set(entries)
    stops = {r[-1] for r in probe_routes} - set(exits)
    assert ends.rows.shape[0] == len(starts) + len(stops) > 0
    assert (ends.weight > 0).all() and ends.target.min() >= 1 / 0.2 / 0.25

    def started_inside(d: RouteDemand) -> dict[int, float]:
        out: dict[int, float] = {}
        for r, x in zip(d.routes, d.rates_veh_h):
            if r[0] not in entries:
                out[r[0]] = out.get(r[0], 0.0) + float(x)
        return out

    fitted = estimate(net, det, probes, 0.2, 900.0, 900.0)
    assert fitted.info["interior_end_rows"] == len(starts) + len(stops)
    with_rows = started_inside(fitted)
    without = started_inside(estimate(net, det, probes, 0.2, 900.0, 900.0, interior_ends=False))
    said = {e: sum(r[0] == e for r in probe_routes) / 0.2 / 0.25 for e in starts}
    se = {e: np.sqrt(n * 0.8) / 0.2 / 0.25 for e, n in
          ((e, sum(r[0] == e for r in probe_routes)) for e in starts)}  # fmt: skip
    gap_with = sum(abs(with_rows.get(e, 0.0) - said[e]) for e in starts)
    gap_without = sum(abs(without.get(e, 0.0) - said[e]) for e in starts)
    assert gap_with < gap_without
    assert all(abs(with_rows.get(e, 0.0) - said[e]) < 3 * se[e] for e in starts)
    # trips from anywhere else than the probes' interior origins stay within the counts
    assert sum(with_rows.values()) == pytest.approx(sum(said.values()), rel=0.25)
