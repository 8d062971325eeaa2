"""Demand without the route file: route flows estimated from what a city observes.

A city has detector counts per edge and interval, and a probe sample of vehicles with
their routes. The trip file that drives SUMO is hidden truth; nothing here reads it.

:func:`estimate` does what SUMO's ``routeSampler.py`` does, with an existing solver:

1. candidate routes: every probe route, plus the fastest free-flow path between every
   pair of network entries and exits (SUMO routes trips that way by default), so an edge
   that no probe crossed can still carry flow; a counted edge that the first fit leaves
   well short of its count (trips start and end inside the network too) then becomes a
   source and a sink of such paths, and the flows are fitted again;
2. route flows ``x >= 0`` (veh/h) by bounded least squares (``scipy.optimize.lsq_linear``;
   scipy's L-BFGS-B on the same objective above :data:`LARGE_FIT` candidate routes):
   counted edges should carry their counted flow (rows weighted 1/sqrt(count), as GEH
   weighs errors), and each flow is pulled gently toward its probe prior
   (probe vehicles / probe share) so that the solution is the one the probes support;
   with ``interior_ends``, as many trips start and end on each interior edge as the
   probes there say (counts cannot tell a trip that starts on an edge from one that
   drives onto it: :func:`_end_rows`);
3. the time profile: the flow entering the network per interval, from the counts on
   entry edges; or, with ``per_interval``, each interval's flows fitted again to that
   interval's counts, pulled toward the hour's flows times that profile, so that every
   route has its own (as routeSampler fits its intervals).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from scipy import optimize, sparse

from parallel.core.errors import DataError
from parallel.traffic.judge import geh
from parallel.traffic.network import RoadNet
from parallel.traffic.observation import PROBE_SCHEMA as PROBE_SCHEMA  # its home before


@dataclass(frozen=True)
class RouteDemand:
    """Route flows with a time profile: what the artificial world departs."""

    routes: tuple[tuple[int, ...], ...]
    rates_veh_h: np.ndarray
    """(R,) mean flow of each route over the horizon."""
    profile: np.ndarray
    """(K,) multiplier of every route's flow in interval k (mean 1), or (K, R): one per
    route and interval."""
    info: dict[str, Any] = field(default_factory=dict, compare=False)

    def departures(
        self, rng: np.random.Generator, duration_s: float, interval_s: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Poisson departures per route and interval, all drawn at once.

        Returns:
            (times (N,) sorted, route index (N,)).
        """
        k = len(self.profile)
        prof = self.profile if self.profile.ndim == 2 else self.profile[:, None]
        lam = prof * self.rates_veh_h[None, :] * (interval_s / 3600.0)  # (K, R)
        n = rng.poisson(lam)
        total = int(n.sum())
        flat = n.ravel()
        cell = np.repeat(np.arange(flat.size), flat)
        interval = cell // len(self.rates_veh_h)
        route = cell % len(self.rates_veh_h)
        t = (interval + rng.random(total)) * interval_s
        keep = t < min(duration_s, k * interval_s)
        order = np.argsort(t[keep], kind="stable")
        return t[keep][order], route[keep][order]


def routes_xml(net: RoadNet, demand: RouteDemand, begin_s: float, interval_s: float) -> str:
    """The estimated demand as a SUMO route file: one ``<route>`` per route and, per
    interval, a Poisson ``<flow>`` (``period="exp(rate)"``) at the route's flow times the
    interval's profile; SUMO's default passenger type. What a SUMO user runs after
    routeSampler: the same demand the twin departs, for SUMO's own models."""
    k = len(demand.profile)
    prof = demand.profile if demand.profile.ndim == 2 else demand.profile[:, None]
    rates = prof * demand.rates_veh_h[None, :] / 3600.0  # (K, R) veh/s
    out = ["<routes>\n"]
    for r, route in enumerate(demand.routes):
        out.append(f'  <route id="r{r}" edges="{" ".join(net.edges[e].id for e in route)}"/>\n')
    flows = []
    for i in range(k):
        b = begin_s + i * interval_s
        for r in range(len(demand.routes)):
            if rates[i, r] > 1e-7:
                flows.append(
                    (b, f'  <flow id="f{r}_{i}" route="r{r}" begin="{b:.2f}" '
                        f'end="{b + interval_s:.2f}" period="exp({rates[i, r]:.8f})" '
                        'departLane="best" departSpeed="max"/>\n')
                )  # fmt: skip
    out += [f for _, f in sorted(flows, key=lambda t: t[0])]  # SUMO wants them by begin
    out.append("</routes>\n")
    return "".join(out)


def entries_and_exits(net: RoadNet) -> tuple[list[int], list[int]]:
    """Edges where traffic enters and leaves the network.

    An entry starts at a node that nothing else flows into except its own reverse edge
    (a dead end or the network's fringe); an exit ends at a node that nothing leaves
    except its reverse. U-turn connections at the fringe do not count.
    """
    into: dict[str, set[str]] = {}
    out_of: dict[str, set[str]] = {}
    for e in net.edges:
        into.setdefault(e.to_node, set()).add(e.from_node)
        out_of.setdefault(e.from_node, set()).add(e.to_node)
    entries = [i for i, e in enumerate(net.edges) if into.get(e.from_node, set()) <= {e.to_node}]
    exits = [i for i, e in enumerate(net.edges) if out_of.get(e.to_node, set()) <= {e.from_node}]
    return entries, exits


def candidate_routes(
    net: RoadNet, sources: set[int] | None = None, sinks: set[int] | None = None
) -> list[tuple[int, ...]]:
    """The fastest free-flow route from every entry (and extra source) to every reachable
    exit (and extra sink)."""
    g = nx.DiGraph()
    for m in net.movements:
        e = net.edges[m.to_edge]
        g.add_edge(m.from_edge, m.to_edge, weight=e.length_m / e.speed_mps)
    entries, exits = entries_and_exits(net)
    exit_set = set(exits) | (sinks or set())
    out = []
    for s in sorted(set(entries) | (sources or set())):
        if s not in g:
            continue
        paths = nx.single_source_dijkstra_path(g, s, weight="weight")
        out += [tuple(p) for t, p in sorted(paths.items()) if t in exit_set and t != s]
    return out


def parse_probes(net: RoadNet, probes: pd.DataFrame, where: str) -> list[tuple[int, ...]]:
    """Each probe's route as edge indices.

    Raises:
        DataError: a probe names an edge the network lacks, or its edges do not connect.
    """
    out = []
    for i, text in enumerate(probes["route"].astype(str).tolist()):
        try:
            out.append(tuple(net.route_ids(text.split(), f"{where}, probe row {i + 1}")))
        except Exception as exc:
            raise DataError(str(exc)) from None
    return out


def _profile(net: RoadNet, counts: pd.DataFrame, n_int: int, interval_s: float) -> np.ndarray:
    entries, _ = entries_and_exits(net)
    ids = {net.edges[i].id for i in entries}
    c = counts[counts["link"].isin(ids)]
    k = (c["interval_start_s"].to_numpy(float) // interval_s).astype(int)
    per = np.bincount(
        k[(k >= 0) & (k < n_int)], c["count"].to_numpy(float)[(k >= 0) & (k < n_int)], n_int
    )
    if per.sum() <= 0:
        return np.ones(n_int)
    # smooth over neighbours: entry counts lag departures by one edge's travel time
    smooth = np.convolve(np.pad(per, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    return smooth / smooth.mean()


#: routes above which :func:`_fit` minimises by L-BFGS-B instead of ``lsq_linear``
LARGE_FIT = 5000


def _fit(
    a: sparse.csr_matrix,
    c: np.ndarray,
    prior: np.ndarray,
    prior_weight: float,
    ends: EndRows | None = None,
) -> np.ndarray:
    """Flows x >= 0 with ``a @ x`` near the counted flows ``c`` (rows weighted
    1/sqrt(count), as GEH weighs errors), near the probes' trip ends (``ends``, each
    row weighted by its own standard error) and x near ``prior``.

    Up to :data:`LARGE_FIT` routes by scipy's bounded least squares (``lsq_linear``);
    beyond, the same objective by L-BFGS-B (:func:`_fit_large`)."""
    w = 1.0 / np.sqrt(np.maximum(c, 10.0))
    if ends is not None and ends.rows.shape[0]:
        a = sparse.vstack([a, ends.rows]).tocsr()
        c = np.concatenate([c, ends.target])
        w = np.concatenate([w, ends.weight])
    # the prior pulls with the weight of a count of the route's own size
    sigma = np.sqrt(np.maximum(prior, 10.0))
    lhs = sparse.vstack([sparse.diags(w) @ a, sparse.diags(np.sqrt(prior_weight) / sigma)])
    rhs = np.concatenate([c * w, np.sqrt(prior_weight) * prior / sigma])
    if a.shape[1] > LARGE_FIT:
        return _fit_large(lhs.tocsr(), rhs, prior)
    sol = optimize.lsq_linear(
        lhs.tocsr(), rhs, bounds=(0.0, np.inf), lsq_solver="lsmr", max_iter=500
    )
    return np.maximum(sol.x, 0.0)


def _fit_large(lhs: sparse.csr_matrix, rhs: np.ndarray, x0: np.ndarray) -> np.ndarray:
    """min 0.5 |lhs x - rhs|^2 over x >= 0 by scipy's L-BFGS-B, from ``x0``.

    Why: a city whose trips start and end all over it (a randomTrips demand on a
    144-signal grid: 300 probe origins and as many destinations) gives 80k candidate
    routes, and ``lsq_linear``'s trust-region iterations, each an LSMR solve to
    convergence, took 323 s for one fit there; L-BFGS-B, two sparse products per step,
    reached the same objective (to 2e-11 relative; flows within 2e-4 veh/h) in 13 s. Below
    :data:`LARGE_FIT` routes ``lsq_linear`` takes about a second and stays, so the shipped
    scenarios' demand, and every figure measured on it, is unchanged."""
    lhs_t = lhs.T.tocsr()

    def value_and_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
        res = lhs @ x - rhs
        return 0.5 * float(res @ res), lhs_t @ res

    sol = optimize.minimize(
        value_and_grad,
        np.maximum(x0, 0.0),
        jac=True,
        method="L-BFGS-B",
        bounds=optimize.Bounds(0.0, np.inf),
        options={"maxiter": 20000, "maxfun": 40000, "ftol": 1e-15, "gtol": 1e-9},
    )
    return np.maximum(sol.x, 0.0)


def _system(
    routes: list[tuple[int, ...]],
    rows: list[int],
    probe_routes: list[tuple[int, ...]],
    probe_share: float,
    hours: float,
) -> tuple[sparse.csr_matrix, np.ndarray]:
    """The edge-route incidence of the counted edges, and each route's probe prior (veh/h)."""
    index = {r: i for i, r in enumerate(routes)}
    prior = np.zeros(len(routes))
    for r in probe_routes:
        prior[index[r]] += 1.0 / max(probe_share, 1e-9) / hours
    row_of = {e: i for i, e in enumerate(rows)}
    ij = [(row_of[e], j) for j, r in enumerate(routes) for e in set(r) if e in row_of]
    return _incidence(ij, (len(rows), len(routes))), prior


def _incidence(ij: list[tuple[int, int]], shape: tuple[int, int]) -> sparse.csr_matrix:
    """A 0/1 matrix with ones at the (row, route) pairs ``ij``."""
    return sparse.csr_matrix((np.ones(len(ij)), ([i for i, _ in ij], [j for _, j in ij])), shape)


@dataclass(frozen=True)
class EndRows:
    """Extra least-squares rows: trips starting (ending) on an interior edge, in veh/h."""

    rows: sparse.csr_matrix
    """(origins + destinations, routes) 0/1: the routes that start (end) on the edge."""
    target: np.ndarray
    """The probes' count there scaled up by the probe share, veh/h."""
    weight: np.ndarray
    """1 / the target's binomial standard error."""


def _end_rows(
    net: RoadNet,
    routes: list[tuple[int, ...]],
    probe_routes: list[tuple[int, ...]],
    probe_share: float,
    hours: float,
) -> EndRows:
    """How many trips start and end on each interior edge, as the probes tell it.

    Why: counts cannot tell a trip that starts on an edge from one that drives onto it,
    so a city whose trips start and end all over it (a randomTrips demand on a
    144-signal grid) was fitted with 20% too many trips from interior edges, each too
    short (6,606 veh/h against 6,001 trips). The probes do tell: n of them starting on
    an edge say n / share trips, with a binomial standard error of sqrt(n (1 - share)) /
    share. An entry's departures are its count already, so entries and exits get no row.
    """
    entries, exits = entries_and_exits(net)
    starts = Counter(r[0] for r in probe_routes)
    stops = Counter(r[-1] for r in probe_routes)
    origins = sorted(set(starts) - set(entries))
    dests = sorted(set(stops) - set(exits))
    row_o = {e: i for i, e in enumerate(origins)}
    row_d = {e: len(origins) + i for i, e in enumerate(dests)}
    ij = [(row_o[r[0]], j) for j, r in enumerate(routes) if r[0] in row_o]
    ij += [(row_d[r[-1]], j) for j, r in enumerate(routes) if r[-1] in row_d]
    rows = _incidence(ij, (len(origins) + len(dests), len(routes)))
    n = np.array([starts[e] for e in origins] + [stops[e] for e in dests], float)
    share = max(probe_share, 1e-9)
    # all vehicles probes: the ends are exact, but a finite weight keeps LSMR well posed
    se = np.sqrt(np.maximum(n, 1.0) * max(1.0 - share, 0.01)) / share / hours
    return EndRows(rows, n / share / hours, 1.0 / se)


def estimate(
    net: RoadNet,
    counts: pd.DataFrame,
    probes: pd.DataFrame,
    probe_share: float,
    duration_s: float,
    interval_s: float,
    detectors: list[str] | None = None,
    prior_weight: float = 0.3,
    per_interval: bool = False,
    interior_ends: bool = True,
) -> RouteDemand:
    """Route flows from counts and probes (see the module docstring).

    Args:
        counts: detector intervals (``link``, ``interval_start_s``, ``count``).
        probes: probe vehicles (:data:`PROBE_SCHEMA`).
        probe_share: the share of vehicles that are probes (scales the prior).
        detectors: the counted edges; None means every edge in ``counts``.
        prior_weight: how strongly flows are pulled toward the probe prior.
        per_interval: also fit each interval's counts (routeSampler's intervals): every
            route gets its own profile, pulled toward the hour's flow times the shared
            profile.
        interior_ends: also fit how many trips start and end on each edge inside the
            network where a probe started or ended (:func:`_end_rows`; the hour's fit).
    """
    probe_routes = parse_probes(net, probes, "probes")
    sources, sinks = {r[0] for r in probe_routes}, {r[-1] for r in probe_routes}
    cand = candidate_routes(net, sources, sinks)
    routes = list(dict.fromkeys([*probe_routes, *cand]))
    hours = duration_s / 3600.0
    counted = sorted(set(counts["link"].astype(str)) if detectors is None else set(detectors))
    total = counts.groupby("link")["count"].sum()
    rows = [net.edge_index[e] for e in counted if e in net.edge_index]
    c = np.array([float(total.get(net.edges[e].id, 0.0)) for e in rows]) / hours
    a, prior = _system(routes, rows, probe_routes, probe_share, hours)
    ends = _end_rows(net, routes, probe_routes, probe_share, hours) if interior_ends else None
    x = _fit(a, c, prior, prior_weight, ends)
    # Trips also start and end inside the network (a car park, a side street), and a
    # side street that no probe used and no fastest entry-exit path crosses then gets no
    # flow at all. Every counted edge left well short of its count (GEH >= 5 on the
    # hour's flow, or under half of it) becomes a source and a sink of candidate routes,
    # and the flows are fitted again (routeSampler's input routes cover every edge so).
    fitted = a @ x
    gap = (fitted < c) & ((geh(fitted, c) >= 5.0) | (fitted < 0.5 * c))
    short = {rows[i] for i in np.flatnonzero(gap)}
    if short:
        cand = candidate_routes(net, sources | short, sinks | short)
        routes = list(dict.fromkeys([*routes, *cand]))
        a, prior = _system(routes, rows, probe_routes, probe_share, hours)
        ends = _end_rows(net, routes, probe_routes, probe_share, hours) if interior_ends else None
        x = _fit(a, c, prior, prior_weight, ends)
    keep = x > 1e-3
    n_int = max(int(np.ceil(duration_s / interval_s - 1e-9)), 1)
    fitted = a @ x
    profile = _profile(net, counts, n_int, interval_s)
    if per_interval:
        profile = _per_interval(
            a[:, keep], x[keep], profile, counts, rows, net, interval_s, prior_weight
        )
    return RouteDemand(
        tuple(r for r, k in zip(routes, keep) if k),
        x[keep],
        profile,
        {
            "probe_routes": len(set(probe_routes)),
            "candidate_routes": len(cand),
            "routes_used": int(keep.sum()),
            "counted_edges": len(rows),
            "short_edges": len(short),
            "interior_end_rows": 0 if ends is None else int(ends.rows.shape[0]),
            "total_veh_h": float(x.sum()),
            "count_fit_rmsn": float(
                np.sqrt(len(c) * np.sum((fitted - c) ** 2)) / max(c.sum(), 1e-9)
            ),
        },
    )


def _per_interval(
    a: sparse.csr_matrix, x: np.ndarray, profile: np.ndarray, counts: pd.DataFrame,
    rows: list[int], net: RoadNet, interval_s: float, prior_weight: float,
) -> np.ndarray:  # fmt: skip
    """(K, R) multipliers: each interval's route flows fitted to that interval's counts,
    pulled toward the hour's flows times the shared profile."""
    k_of = (counts["interval_start_s"].to_numpy(float) // interval_s).astype(int)
    ids = [net.edges[e].id for e in rows]
    out = np.ones((len(profile), len(x)))
    for k in range(len(profile)):
        per = counts[k_of == k].groupby("link")["count"].sum()
        c = np.array([float(per.get(e, 0.0)) for e in ids]) * 3600.0 / interval_s
        out[k] = _fit(a, c, x * profile[k], prior_weight) / np.maximum(x, 1e-9)
    return out
