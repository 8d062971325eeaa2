"""City scenarios: a real SUMO network, its trip file as hidden truth, and what a city observes.

A city scenario has a top-level ``sumo:`` section that points at a ``.sumocfg`` (network,
trip file and time window). The network is public: both worlds read it. The trip file is
the actual world's hidden truth: the artificial side learns demand from detector counts
and a probe sample (``observation``), never from the file. Example::

    name: cologne8
    seed: 1
    sumo:
      config: data/resco/cologne8/cologne8.sumocfg
    observation: {interval_s: 900, probe_share: 0.1}
    fidelity: {plans: 10, reps: 3}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from parallel.config.schema import Strict, read_with_overrides, validate
from parallel.config.yamlsrc import line_of
from parallel.core.errors import ScenarioError, UserInputError
from parallel.traffic.scenario import ExecutorConfig, ReportConfig

CityParam = Literal[
    "saturation_headway_s",
    "jam_spacing_m",
    "speed_factor_mean",
    "startup_lost_s",
    "amber_used_s",
    "critical_gap_s",
    "stop_penalty_s",
    "depart_loss_s",
    "turn_loss_s",
    "minor_loss_s",
]


class SumoSource(Strict):
    """The actual world: Eclipse SUMO on the scenario's own files."""

    config: str
    """A ``.sumocfg`` relative to the scenario: network, trip file (hidden truth) and the
    time window (begin, end)."""
    time_to_teleport_s: float = Field(300.0, gt=0, le=3600)
    """SUMO's ``--time-to-teleport``: a vehicle stuck this long jumps ahead (gridlock)."""
    replay: str | None = None
    """A folder that ``parallel record`` wrote from this configuration (relative to the
    scenario): the actual world replays that observation instead of running SUMO, so SUMO
    need not be installed. A recording cannot be acted on: the loop observes it once,
    learns the twin and recommends a control."""


class CityObservation(Strict):
    """What the city observes of the actual world."""

    interval_s: float = Field(900.0, ge=60, le=3600)
    """Detector counting interval, s (15 minutes is the traffic engineer's usual)."""
    probe_share: float = Field(0.1, gt=0, le=1)
    """Share of vehicles whose route is observed (probe vehicles)."""
    detectors: list[str] | Literal["all"] = "all"
    """Counted edges: ``all``, or a list of edge ids of the network."""


class MesoPrior(Strict):
    """The artificial world's behaviour parameters before calibration."""

    saturation_headway_s: float = Field(2.0, ge=0.8, le=6)
    """Discharge headway per lane at a green, s."""
    jam_spacing_m: float = Field(7.0, ge=4, le=20)
    """Road length a queued vehicle takes: storage = length x lanes / jam spacing."""
    speed_factor_mean: float = Field(1.0, ge=0.3, le=1.5)
    """Desired speed as a share of the speed limit (mean)."""
    speed_factor_sd: float = Field(0.1, ge=0, le=0.5)
    """Spread of the speed factor between drivers."""
    startup_lost_s: float = Field(2.0, ge=0, le=10)
    """Start-up lost time at the start of each green, s."""
    amber_used_s: float = Field(0.0, ge=0, le=6)
    """How long into an amber a queue still discharges, s (HCM's extension of effective
    green, 2 s in its tables). SUMO's default cars brake for an amber whenever they can
    (decel 4.5 m/s²), hence 0; drivers who brake gently run into it."""
    critical_gap_s: float = Field(4.0, ge=0.5, le=12)
    """Gap a yielding vehicle needs in the stream with right of way, s."""
    stop_penalty_s: float = Field(2.0, ge=0, le=20)
    """Time lost braking and accelerating by a vehicle that had to stop, s."""
    depart_loss_s: float = Field(2.7, ge=0, le=20)
    """Time lost accelerating from standstill at departure, s (v / 2a)."""
    turn_loss_s: float = Field(2.0, ge=0, le=20)
    """Time lost slowing down for a turn, s."""
    minor_loss_s: float = Field(3.0, ge=0, le=20)
    """Time lost approaching a yield point of an unsignalised junction, s."""
    inside_slots: int = Field(1, ge=0, le=4)
    """Permissive turners per movement that may wait inside the junction for their gap
    (SUMO's internal waiting position); the next one waits at the stop line and blocks
    its lane. 0: every waiting turner blocks its lane."""
    minor_gap_s: float = Field(4.0, ge=0.5, le=12)
    """Gap a minor street's vehicle needs in the streams with right of way at a junction
    without a signal, s (``critical_gap_s`` is the permissive turn's at a light)."""
    follow_up_s: float = Field(3.5, ge=0, le=10)
    """Headway between yielding vehicles, s: a permissive turner at a light or a minor
    street's vehicle that went in a gap is followed by the next after this long (HCM's
    follow-up headway, 3.3-3.5 s on a minor street), not after the green's saturation
    headway, which let a whole platoon through one gap. 0: the saturation headway. On cologne3 and
    ingolstadt1, seeds 1-3: ranking tau 0.62 -> 0.73 and 0.67 -> 0.73 on average, mean-delay
    error 12.4% -> 7.5% and 9.2% -> 6.3% (benchmarks/README.md, "Networks the twin was
    not tuned on")."""
    junction_storage: bool = True
    """Vehicles may also stand on a junction's internal lanes (SUMO's ``via`` lanes): a
    lane stores its own length plus the longest internal lane that leads into it. Real
    networks split roads into short edges around wide junctions (cologne3: a 5.3 m edge
    between 12 m and 18 m of junction), and without it the twin gridlocks where SUMO does
    not. On by default: ingolstadt1's mean-delay error 14.9% -> 4.8%, cologne3's 16.9% ->
    14.8%, cologne8 level (benchmarks/README.md, "Networks the twin was not tuned
    on"). ingolstadt7 needs the lane habits below with it: alone it frees the corridor
    that SUMO's lane changes congest ("Lanes as SUMO's drivers use them")."""
    lane_change_m: float = Field(0.0, ge=0, le=500)
    """Road length a vehicle needs per lane change, m; 0 (the default): none modelled, a
    vehicle queues in any lane that feeds its next movement. Above 0, only in lanes whose
    connections land on the next edge within reach of the lanes it needs there (this
    many metres per lane to cross), so on short edges traffic lines up early in the few
    lanes that lead on, as SUMO's strategic lane changing makes it. Off by default:
    alone, on ingolstadt7, it ranked the plans worse ("Real networks"); that scenario
    uses 150 m with the lane habits below (benchmarks/README.md, "Lanes as SUMO's
    drivers use them")."""
    keep_right_veh: int = Field(0, ge=0, le=1000)
    """Lane discipline: a vehicle takes the rightmost lane its route may use unless that
    lane holds this many vehicles more than the least occupied one (SUMO's drivers keep
    right and change for a shorter queue only when it pays); 0 (the default): always
    the least occupied lane, a perfect balance no driver achieves. ingolstadt7's
    scenario uses 6 (benchmarks/README.md, "Lanes as SUMO's drivers use them")."""
    lane_connections: bool = False
    """A vehicle enters the next edge only on a lane that its own lane's connections
    lead to. One that lands in a lane its route cannot leave by changes lanes at that
    edge's stop line: it stands there, holding up its lane, until the lane it needs has
    room, as SUMO's vehicles do on short edges. Off by default (every lane of a movement
    open to every vehicle); ingolstadt7's scenario turns it on."""
    lane_change_s: float = Field(1.0, ge=0, le=10)
    """Time a lane change at a stop line keeps the lane it leaves blocked, s."""
    minor_yields_to_queue: bool = False
    """A minor street's vehicle at a junction without a signal also waits while a
    vehicle stands queued in a stream it yields to and merges with (the same next
    edge): room that opens downstream goes to the major street first, as SUMO's
    waiting major vehicles keep their claim on the lane they are about to enter. A
    queued crossing stream does not hold the minor street back. Off by default (only
    the gap since the last major vehicle counts); ingolstadt7's scenario turns it on."""
    gap_ahead_s: float = Field(0.0, ge=0, le=12)
    """A yielding vehicle (a permissive turner, a minor street) also waits while a
    vehicle with right of way will reach its stop line within this many seconds: SUMO's
    yielding vehicles judge the gap ahead from the approaching vehicles' arrival times,
    not only the time since the last one passed. 0 (the default): only the gap behind
    counts. ingolstadt7's scenario uses 4 s: its permissive left turn off `201963537#1`
    then queues as long as in SUMO, and the plans rank at tau 0.822 / 0.956 / 0.956 on
    seeds 1-3 against 0.822 / 0.867 / 0.911; on cologne8 it moves the ranking both ways
    (benchmarks/README.md, "The gap ahead")."""


class CityArtificial(Strict):
    """The artificial world."""

    params: MesoPrior = MesoPrior()
    """Behaviour parameters before calibration."""
    replications: int = Field(3, ge=1, le=100)
    """Artificial runs averaged per prediction."""


class CityCalibration(Strict):
    """Fitting the behaviour parameters to one observation under the incumbent plan."""

    enabled: bool = True
    """Turn calibration off to judge the prior as it is."""
    parameters: list[CityParam] = ["speed_factor_mean", "stop_penalty_s"]
    """Which parameters are fitted (the rest keep their prior). Few on purpose: one
    observation under one plan cannot tell capacity from running losses, and parameters
    that compensate for each other fit the incumbent but mispredict other plans."""
    demand_per_interval: bool = True
    """Fit the route flows to every counting interval's counts as well (routeSampler's
    intervals: each route gets its own time profile, pulled toward the hour's flow times
    the shared profile), not only to the hour's. Real demand changes within the hour and
    not the same way on every route: the share of edge-intervals within GEH 5 rises from
    0.60-0.89 to 0.98-1.00 on cologne1, cologne3, cologne8 and ingolstadt1. Off in
    ingolstadt7's scenario (there GEH rises to 0.97-1.00 but one seed of three ranks the
    plans at tau 0.60; benchmarks/README.md, "Lanes as SUMO's drivers use them") and on
    the synthetic grid, whose demand is stationary, so that each interval's fit only
    follows count noise."""
    demand_interior_ends: bool = True
    """Also fit how many trips start and end on each edge inside the network where a
    probe started or ended, to the probes' count scaled by the probe share and weighted
    by its binomial error (entries' departures are their counts already). Counts cannot
    tell a trip that starts on an edge from one that drives onto it: on a 144-signal grid
    with trips from anywhere to anywhere the estimate had 20% too many, too short trips
    from interior edges, and the plans ranked at tau 0.733; with these rows 0.867, and
    cologne8 ranks at 0.911 / 0.911 / 0.778 on seeds 1-3 (0.911 / 0.822 / 0.778 without);
    cologne3 and ingolstadt1 move within calibration's noise, both ways. Off in
    ingolstadt7's scenario: its calibration lands in a worse basin with them (tau 0.733 on
    every seed; benchmarks/README.md, "Trips that start inside the network")."""
    budget: int = Field(40, ge=5, le=2000)
    """Candidate parameter sets evaluated (scipy's Nelder-Mead)."""
    replications: int = Field(2, ge=1, le=20)
    """Artificial runs per candidate (common random numbers across candidates). ingolstadt7's
    scenario runs 4: with 2 the objective's noise sent Nelder-Mead to a different basin
    from seed to seed there (plan ranking 0.69-0.78 against 0.82-0.87 with 4); on
    cologne3 and ingolstadt1, 4 ranked worse (benchmarks/README.md, "Real networks")."""
    window: int = Field(3, ge=1, le=20)
    """The closed loop calibrates against the latest this-many observations together
    (each made under its own plan); ``parallel fidelity`` uses one, by design."""


class FidelityConfig(Strict):
    """``parallel fidelity``: a design of plans run in SUMO, the artificial world and MESO."""

    plans: int = Field(10, ge=2, le=13)
    """Plans in the design: the incumbent plus re-timings."""
    reps: int = Field(3, ge=1, le=50)
    """Replications of every plan in every world."""
    meso: bool = True
    """Also run SUMO's mesoscopic model as the peer baseline (on the true trip file)."""
    meso_estimated: bool = True
    """Also run SUMO's mesoscopic model on the twin's estimated demand (``meso_estimated``
    in the results): the peer as a SUMO user without the trip file would run it, so that
    the twin's model and its demand estimate are judged apart."""
    calibrate_on: int = Field(1, ge=1, le=5)
    """Observations the twin is calibrated on: the first this-many plans of the design,
    each run once in SUMO (1: the incumbent alone, as a city first has it; the closed
    loop has one more per round)."""


class PolicyChoice(Strict):
    """A control policy the act verb tries, with its parameters."""

    policy: str
    """A registered policy: fixed, webster, actuated or max_pressure."""
    params: dict[str, float] = {}
    """The policy's parameters (see ``parallel.traffic.control.POLICIES``); defaults
    otherwise."""

    @model_validator(mode="after")
    def _known(self) -> PolicyChoice:
        from parallel.traffic.control import ControlError, settings

        try:
            settings(self.policy, self.params)  # unknown names list the valid ones
        except ControlError as exc:
            raise ValueError(str(exc)) from None  # reported with the file, line and field
        return self


def _default_policies() -> list[PolicyChoice]:
    return [PolicyChoice(policy=p) for p in ("fixed", "webster", "actuated", "max_pressure")]


class CityLoop(Strict):
    """The closed loop (``parallel run``) on a real network."""

    rounds: int = Field(3, ge=1, le=100)
    """Rounds of observe -> imitate -> judge -> adapt -> act."""
    plans: int = Field(8, ge=2, le=13)
    """Fixed-time re-timings of the plan in force compared each round (policy ``fixed``)."""
    policies: list[PolicyChoice] = Field(default_factory=_default_policies, min_length=1)
    """The policies the act verb compares in the twin each round."""
    optimise: int = Field(12, ge=0, le=500)
    """optuna trials over per-program cycles of the best fixed-time plan (0: none)."""
    tolerance: float = Field(0.10, ge=0, le=1)
    """Safe exploration: a control is applied only if its pessimistic prediction is at most
    this share worse than the mean delay measured under the control in force."""
    min_margin: float = Field(0.05, ge=0, le=1)
    """The smallest trust margin (relative prediction error) the act verb assumes."""


class CityScenario(Strict):
    """A scenario on a real SUMO network (see the module docstring)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
    """Scenario name; names the output folder. Letters, digits, ``_ . -``, at most 64,
    starting with a letter, digit or ``_`` (so it can never be ``..``)."""
    description: str = ""
    """Free text shown in the report."""
    seed: int = Field(0, ge=0, le=2**63 - 1, strict=True)
    """Root seed; every random stream is spawned from it."""
    sumo: SumoSource
    """The actual world: SUMO on the scenario's files."""
    observation: CityObservation = CityObservation()
    """What the city observes."""
    artificial: CityArtificial = CityArtificial()
    """The artificial world."""
    calibration: CityCalibration = CityCalibration()
    """Calibration of the behaviour parameters."""
    fidelity: FidelityConfig = FidelityConfig()
    """The fidelity design."""
    loop: CityLoop = CityLoop()
    """The closed loop."""
    executor: ExecutorConfig = ExecutorConfig()
    """Where runs go (SUMO runs are separate processes either way)."""
    report: ReportConfig = ReportConfig()
    """Outputs of ``parallel run``."""

    source_dir: str = Field(".", exclude=True)
    """(internal) folder of the scenario file."""

    @property
    def sumocfg(self) -> Path:
        return (Path(self.source_dir) / self.sumo.config).resolve()

    @property
    def replay_dir(self) -> Path | None:
        """The recording the actual world replays, if any."""
        r = self.sumo.replay
        return None if r is None else (Path(self.source_dir) / r).resolve()


def is_city_scenario(data: dict[str, Any]) -> bool:
    return isinstance(data, dict) and "sumo" in data


def load_city(path: str | Path, overrides: dict[str, Any] | None = None) -> CityScenario:
    """Load and check a city scenario: the .sumocfg, its network and its trip file.

    Raises:
        ScenarioError: anything wrong with the file, naming the file, line and field.
        UserInputError: the SUMO files are missing, unsafe or inconsistent, naming them.
    """
    from parallel.traffic.actual.sumo_net import check_trips, read_sumocfg
    from parallel.traffic.network import read_net, require_signals

    p = Path(path)
    data, lines = read_with_overrides(p, overrides)
    sc = validate(CityScenario, data, lines, p)
    line = line_of(lines, ("sumo", "config"))[0]
    if not sc.sumocfg.is_file():
        raise ScenarioError(
            f"SUMO configuration {str(sc.sumocfg)!r} not found",
            file=p,
            line=line,
            field="sumo.config",
        )
    try:
        cfg = read_sumocfg(sc.sumocfg)
        net = read_net(cfg.net_file)
        require_signals(net, f"scenario {p}")
        for trips in cfg.route_files:
            check_trips(net, trips)
    except UserInputError as exc:
        raise ScenarioError(str(exc), file=p, line=line, field="sumo.config") from None
    if sc.replay_dir is not None and not (sc.replay_dir / "provenance.json").is_file():
        raise ScenarioError(
            f"recording {str(sc.replay_dir)!r} not found (no provenance.json there); make it "
            f"with: parallel record <a scenario with this sumo.config> --out {sc.sumo.replay}",
            file=p,
            line=line_of(lines, ("sumo", "replay"))[0],
            field="sumo.replay",
        )
    det = sc.observation.detectors
    if det != "all":
        missing = [d for d in det if d not in net.edge_index]
        if missing:
            raise ScenarioError(
                f"detector on edge {missing[0]!r}, which is not in {cfg.net_file}; "
                "list edge ids of the network, or use 'all'",
                file=p,
                line=line_of(lines, ("observation", "detectors"))[0],
                field="observation.detectors",
            )
    return sc
