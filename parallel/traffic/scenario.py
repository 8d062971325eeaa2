"""Scenario files: typed models, loading, validation and resolution.

A scenario is one YAML file. Every concern has its own strict model
(``extra="forbid"``), so an unknown key, a wrong type or an out-of-range value is
rejected before any work starts, with the file, the line, the field path and what is
allowed. ``load()`` is the only entry point the rest of the package uses.
"""

from __future__ import annotations

import itertools
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from parallel.config.schema import Strict, read_with_overrides, validate
from parallel.config.yamlsrc import PathKey, line_of
from parallel.core.errors import ScenarioError
from parallel.metrics.c2st import C2STConfig
from parallel.traffic.topology import NetworkConfig

KPI = Literal[
    "mean_delay_s", "mean_travel_time_s", "p95_travel_time_s", "throughput_veh_h", "max_queue_veh"
]
KPI_NAMES: tuple[str, ...] = (
    "mean_delay_s",
    "mean_travel_time_s",
    "p95_travel_time_s",
    "throughput_veh_h",
    "max_queue_veh",
)


# ------------------------------------------------------------------------------ demand
class Turning(Strict):
    """Turning probabilities at a stop line; they must sum to 1."""

    left: float = Field(0.1, ge=0, le=1)
    """Share of vehicles turning left."""
    through: float = Field(0.8, ge=0, le=1)
    """Share of vehicles going straight on."""
    right: float = Field(0.1, ge=0, le=1)
    """Share of vehicles turning right."""

    @model_validator(mode="after")
    def _sums_to_one(self) -> Turning:
        total = self.left + self.through + self.right
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"turning probabilities sum to {total:g}; they must sum to 1")
        return self


class DemandConfig(Strict):
    """The observation horizon and the route choice shared by all worlds."""

    duration_s: float = Field(3600.0, gt=0, le=86400)
    """Measured horizon of one observation, seconds (after the warm-up)."""
    warmup_s: float = Field(300.0, ge=0, le=7200)
    """Warm-up simulated before measuring starts, seconds; nothing in it is recorded."""
    turning_main: Turning = Turning()
    """Turning probabilities for vehicles approaching on the main street."""
    turning_side: Turning = Turning(left=0.2, through=0.6, right=0.2)
    """Turning probabilities for vehicles approaching on a side street."""


# ----------------------------------------------------------------------------- control
class Plan(Strict):
    """A two-phase fixed-time signal plan applied to every intersection.

    Phase 1 serves the main street, phase 2 the side streets. Each phase is followed by
    ``control.lost_time_s`` of amber and all-red.
    """

    cycle_s: float = Field(90.0, gt=0, le=300)
    """Cycle length, seconds."""
    splits: tuple[float, float] = (0.5, 0.5)
    """Shares of the green time (cycle minus lost time) for phase 1 (main) and phase 2 (side)."""
    offset_s: float = Field(0.0, ge=0, le=300)
    """Offset between consecutive intersections, seconds (intersection k starts k*offset)."""

    @model_validator(mode="after")
    def _splits_positive(self) -> Plan:
        if any(s <= 0 for s in self.splits) or abs(sum(self.splits) - 1.0) > 1e-6:
            raise ValueError(
                f"splits {list(self.splits)} must be two positive shares that sum to 1"
            )
        return self

    def greens(self, lost_time_s: float) -> tuple[float, float]:
        """Green times of the two phases, seconds."""
        g = self.cycle_s - 2 * lost_time_s
        return (g * self.splits[0], g * self.splits[1])

    def label(self) -> str:
        return f"C{self.cycle_s:g}/s{self.splits[0]:.2f}/o{self.offset_s:g}"

    def describe(self) -> dict[str, object]:
        """What a design table shows of the plan: its label and factors."""
        return {
            "plan": self.label(),
            "cycle_s": self.cycle_s,
            "split_main": self.splits[0],
            "offset_s": self.offset_s,
        }


class ControlConfig(Strict):
    """Signal timing constraints and the incumbent plan."""

    initial: Plan = Plan()
    """The plan in force at the start (the incumbent of round 1)."""
    lost_time_s: float = Field(4.0, ge=0, le=20)
    """Amber plus all-red after each phase, seconds."""
    min_green_s: float = Field(7.0, ge=1, le=60)
    """Shortest green any phase may get, seconds."""

    def check(self, plan: Plan) -> None:
        """Raise ``ValueError`` if ``plan``'s greens do not fit its cycle."""
        greens = plan.greens(self.lost_time_s)
        if min(greens) < self.min_green_s:
            raise ValueError(
                f"green splits {list(plan.splits)} do not fit the cycle of {plan.cycle_s:g} s: "
                f"greens would be {greens[0]:.1f} s and {greens[1]:.1f} s after "
                f"2 x {self.lost_time_s:g} s lost time, but each must be at least "
                f"min_green_s = {self.min_green_s:g} s; lengthen the cycle or even the splits"
            )


# ------------------------------------------------------------------------------ worlds
class SpeedDist(Strict):
    """A desired-speed distribution (normal, truncated at 5 km/h)."""

    mean_kmh: float = Field(50.0, gt=5, le=200)
    """Mean desired speed, km/h."""
    sd_kmh: float = Field(5.0, ge=0, le=50)
    """Standard deviation of desired speed across drivers, km/h."""


class DriverTruth(Strict):
    """Car-following (IDM) parameters of the reference world's drivers."""

    time_headway_s: float = Field(1.4, gt=0.3, le=5)
    """Mean desired time headway T, seconds."""
    time_headway_sd_s: float = Field(0.2, ge=0, le=2)
    """Spread of T across drivers, seconds."""
    max_accel: float = Field(1.5, gt=0.1, le=5)
    """Maximum acceleration a, m/s²."""
    comfort_decel: float = Field(2.0, gt=0.1, le=8)
    """Comfortable deceleration b, m/s²."""
    min_gap_m: float = Field(2.0, gt=0, le=10)
    """Jam distance s0, metres."""
    length_m: float = Field(5.0, gt=1, le=20)
    """Vehicle length, metres."""


class Truth(Strict):
    """Hidden truth of the reference world. The artificial side never reads it."""

    demand: dict[str, Annotated[float, Field(gt=0, le=5000)]]
    """Arrival rate per origin, vehicles per hour (Poisson). Keys: the network's origins."""
    speed: SpeedDist = SpeedDist()
    """Desired-speed distribution of the drivers."""
    driver: DriverTruth = DriverTruth()
    """Car-following parameters."""


class ReferenceWorld(Strict):
    """A microscopic IDM world with hidden parameters, written to differ from the artificial one."""

    world: Literal["reference"]
    """Selects this world."""
    truth: Truth
    """The hidden true parameters (demand, speeds, drivers)."""
    step_s: float = Field(0.5, gt=0.05, le=2.0)
    """Integration step of the car-following model, seconds."""


class ReplayWorld(Strict):
    """Observed logs in the Observation schema (CSV or Parquet). It cannot be acted on."""

    world: Literal["replay"]
    """Selects this world."""
    vehicles: str
    """Vehicle records file (.csv or .parquet), relative to the scenario file."""
    detectors: str
    """Detector intervals file (.csv or .parquet), relative to the scenario file."""


class SumoWorld(Strict):
    """Eclipse SUMO through libsumo (the ``[sumo]`` extra), one simulation per process."""

    world: Literal["sumo"]
    """Selects this world."""
    truth: Truth
    """Hidden demand per origin, desired speeds (as SUMO speed factors) and car following."""
    step_s: float = Field(0.5, gt=0.05, le=2.0)
    """SUMO's step length, seconds."""
    teleport_limit: int = Field(20, ge=0, le=100000)
    """Most teleports (SUMO's gridlock escape) tolerated in one observation before the run fails."""
    time_to_teleport_s: float = Field(300.0, gt=0, le=3600)
    """SUMO's ``--time-to-teleport``: a vehicle stuck this long is teleported (and counted)."""


ActualConfig = Annotated[ReferenceWorld | ReplayWorld | SumoWorld, Field(discriminator="world")]


class ArtificialParams(Strict):
    """The artificial world's parameters: the prior, before any calibration."""

    demand: dict[str, Annotated[float, Field(gt=0, le=5000)]] | Literal["from_counts"] = (
        "from_counts"
    )
    """Arrival rate per origin, veh/h, or ``from_counts`` to start from the entry counts observed."""
    saturation_headway_s: float = Field(2.0, ge=0.8, le=6)
    """Mean discharge headway per lane at a green stop line, seconds."""
    speed: SpeedDist = SpeedDist()
    """Desired-speed distribution of the drivers."""


class Behaviours(Strict):
    """Which behaviour model supplies each random value (sampled in batches)."""

    speed: Literal["normal", "learned"] = "normal"
    """Desired speed model: ``normal``, or ``learned`` per origin from the observed
    vehicles that never stopped (a conditional generator; its mean follows
    ``speed.mean_kmh``)."""
    headway: Literal["lognormal", "constant"] = "lognormal"
    """Discharge headway model."""
    headway_cv: float = Field(0.25, ge=0, le=2)
    """Coefficient of variation of the discharge headway (lognormal)."""
    arrivals: Literal["poisson", "learned"] = "poisson"
    """Arrival process at each origin: ``poisson``, or ``learned`` gaps per origin from the
    observed entry times (a conditional generator; the rate still follows the demand)."""
    learned_steps: int = Field(1500, ge=10, le=100_000)
    """Training steps of each learned behaviour's generator (trained on round 1's
    observation, judged on every later one)."""


class ArtificialConfig(Strict):
    """The artificial (mesoscopic SimPy) world."""

    world: Literal["simpy"] = "simpy"
    """Selects the artificial world; only the SimPy mesoscopic world exists."""
    params: ArtificialParams = ArtificialParams()
    """Prior parameters."""
    behaviours: Behaviours = Behaviours()
    """Behaviour models."""
    replications: int = Field(3, ge=1, le=100)
    """Replications averaged when the artificial world imitates one observation."""


# ------------------------------------------------------------------------------- judge
class JudgeConfig(Strict):
    """How actual and artificial observations are compared."""

    detector_interval_s: float = Field(900.0, ge=30, le=3600)
    """Detector aggregation interval, seconds; counts are scaled to veh/h for GEH."""
    mmd_permutations: int = Field(200, ge=200, le=10000)
    """Permutations for the MMD p-value (at least 200)."""
    c2st: C2STConfig = C2STConfig()
    """Classifier two-sample test."""


# ------------------------------------------------------------------------- calibration
Objective = Literal["rmsn", "geh", "ks_travel_time", "w1_travel_time", "ks_speed", "c2st_auc"]
Param = Literal["demand", "saturation_headway_s", "speed"]


class CalibrationConfig(Strict):
    """Search of the artificial parameters against a named discrepancy."""

    enabled: bool = True
    """Turn calibration off to judge the prior as it is."""
    objective: dict[Objective, Annotated[float, Field(gt=0)]] = {"rmsn": 1.0, "ks_travel_time": 1.0}
    """Weighted sum of discrepancies to minimise (``c2st_auc`` calibrates adversarially)."""
    parameters: list[Param] = ["demand", "saturation_headway_s", "speed"]
    """Which parameter groups are fitted."""
    optimizer: Literal["nelder-mead", "powell", "tpe"] = "nelder-mead"
    """scipy's Nelder-Mead or Powell, or optuna's TPE sampler."""
    budget: int = Field(60, ge=5, le=5000)
    """Candidate parameter sets the search may evaluate (each costs one run per observation)."""
    replications: int = Field(2, ge=1, le=50)
    """Artificial runs per observation for each candidate (more runs, less simulation noise)."""
    window: int = Field(3, ge=1, le=50)
    """Calibrate against the latest this-many observations together."""


# ------------------------------------------------------------------------- experiments
Factor = Literal["cycle_s", "split_main", "offset_s"]


class ExperimentsConfig(Strict):
    """Computational experiments over signal plans in the artificial world."""

    design: Literal["factorial", "lhs"] = "factorial"
    """Full factorial over the listed levels, or a Latin hypercube over [low, high] ranges."""
    factors: dict[Factor, list[float]] = {
        "cycle_s": [60, 90, 120],
        "split_main": [0.4, 0.5, 0.6, 0.7],
    }
    """Control factors: levels (factorial) or [low, high] (lhs). Unlisted ones stay as the incumbent's."""
    samples: int = Field(16, ge=2, le=10000)
    """Number of design points for ``lhs``."""
    replications: int = Field(8, ge=2, le=1000)
    """Replications per design cell (common random numbers across cells)."""
    objective: KPI = "mean_delay_s"
    """The KPI to minimise (``throughput_veh_h`` is maximised)."""
    chunk_size: int = Field(4, ge=1, le=1000)
    """Replications batched into one task on the executor."""

    @model_validator(mode="after")
    def _levels(self) -> ExperimentsConfig:
        for name, levels in self.factors.items():
            if not levels:
                raise ValueError(f"factor {name} has no levels")
            if self.design == "lhs" and (len(levels) != 2 or levels[0] >= levels[1]):
                raise ValueError(
                    f"lhs factor {name} needs [low, high] with low < high, got {levels}"
                )
        return self


class LoopConfig(Strict):
    """The parallel loop."""

    rounds: int = Field(3, ge=1, le=50)
    """Rounds of observe, imitate, judge, adapt, experiment and act."""


class ExecutorConfig(Strict):
    """Where replications run."""

    kind: Literal["sequential", "process", "dask"] = "process"
    """``sequential`` (debugging), ``process`` (a local process pool) or ``dask``."""
    workers: int | None = Field(None, ge=1, le=512)
    """Worker processes; default: the machine's cores."""
    address: str | None = None
    """Dask scheduler address (``tcp://host:8786``); default: a LocalCluster."""


class ReportConfig(Strict):
    """Where the run folder goes and what it holds."""

    dir: str = "reports"
    """Parent folder of run folders, relative to the working directory."""
    export: str = "data"
    """Sub-folder of the run folder for observation tables (must stay inside the run folder)."""
    plots: bool = True
    """Draw plots into the HTML report."""


class Scenario(Strict):
    """A whole scenario file."""

    name: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
    """Scenario name; names the output folder. Letters, digits, ``_ . -``, at most 64,
    starting with a letter, digit or ``_`` (so it can never be ``..``)."""
    description: str = ""
    """Free text shown in the report."""
    seed: int = Field(0, ge=0, le=2**63 - 1, strict=True)
    """Root seed; every random stream is spawned from it."""
    network: NetworkConfig = NetworkConfig()
    """The road network shared by all worlds."""
    demand: DemandConfig = DemandConfig()
    """Horizon and route choice."""
    control: ControlConfig = ControlConfig()
    """Signal timing."""
    actual: ActualConfig
    """The actual world: ``reference`` or ``replay``."""
    artificial: ArtificialConfig = ArtificialConfig()
    """The artificial world."""
    judge: JudgeConfig = JudgeConfig()
    """Distances and tests."""
    calibration: CalibrationConfig = CalibrationConfig()
    """The adapt step."""
    experiments: ExperimentsConfig = ExperimentsConfig()
    """The act step's computational experiments."""
    loop: LoopConfig = LoopConfig()
    """The loop."""
    executor: ExecutorConfig = ExecutorConfig()
    """Executor for replications."""
    report: ReportConfig = ReportConfig()
    """Outputs."""

    # The scenario file's folder; data paths are resolved against it. Not a YAML field.
    source_dir: str = Field(".", exclude=True)
    """(internal) folder of the scenario file."""


# --------------------------------------------------------------------------- loading
def _check_origins(sc: Scenario) -> list[tuple[PathKey, str]]:
    problems: list[tuple[PathKey, str]] = []
    origins = set(sc.network.origins())
    demand_maps: list[tuple[PathKey, dict[str, float]]] = []
    if isinstance(sc.actual, ReferenceWorld | SumoWorld):
        demand_maps.append((("actual", "truth", "demand"), sc.actual.truth.demand))
    if isinstance(sc.artificial.params.demand, dict):
        demand_maps.append((("artificial", "params", "demand"), sc.artificial.params.demand))
    for loc, demand in demand_maps:
        extra = sorted(set(demand) - origins)
        missing = sorted(origins - set(demand))
        if extra:
            problems.append(
                (
                    (*loc, extra[0]),
                    f"unknown origin {extra[0]!r}; the network's origins are {sorted(origins)}",
                )
            )
        elif missing:
            problems.append(
                (
                    loc,
                    f"missing demand for origin(s) {missing}; give a positive "
                    f"rate in veh/h for each of {sorted(origins)}",
                )
            )
    return problems


def design_plans(sc: Scenario) -> list[dict[str, float]]:
    """The factor settings of every design cell (for LHS, the lows and highs only)."""
    # for lhs the levels are [low, high], so this gives the corners of the box
    ex = sc.experiments
    names = list(ex.factors)
    return [dict(zip(names, combo)) for combo in itertools.product(*ex.factors.values())]


def plan_from_factors(base: Plan, factors: dict[str, float]) -> Plan:
    """The incumbent ``base`` with the given factors replaced."""
    cycle = factors.get("cycle_s", base.cycle_s)
    split = factors.get("split_main", base.splits[0])
    offset = factors.get("offset_s", base.offset_s)
    return Plan(cycle_s=cycle, splits=(split, 1.0 - split), offset_s=offset)


def _check_design(sc: Scenario) -> list[tuple[PathKey, str]]:
    problems: list[tuple[PathKey, str]] = []
    try:
        sc.control.check(sc.control.initial)
    except ValueError as exc:
        return [(("control", "initial", "splits"), str(exc))]
    for cell in design_plans(sc):
        try:
            plan = plan_from_factors(sc.control.initial, cell)
            sc.control.check(plan)
        except (ValueError, ValidationError) as exc:
            msg = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            problems.append((("experiments", "factors"), f"design cell {cell}: {msg}"))
            break
    return problems


def _check_paths(sc: Scenario) -> list[tuple[PathKey, str]]:
    problems: list[tuple[PathKey, str]] = []
    export = PurePosixPath(sc.report.export.replace("\\", "/"))
    if export.is_absolute() or ".." in export.parts or sc.report.export.strip() in ("", "."):
        problems.append(
            (
                ("report", "export"),
                f"path {sc.report.export!r} escapes the run folder; "
                "give a relative sub-folder name without '..', such as 'data'",
            )
        )
    if isinstance(sc.actual, ReplayWorld):
        for key in ("vehicles", "detectors"):
            rel = getattr(sc.actual, key)
            full = Path(sc.source_dir) / rel
            if not full.is_file():
                problems.append(
                    (
                        ("actual", key),
                        f"data file {str(full)!r} not found; give a "
                        ".csv or .parquet file relative to the scenario file",
                    )
                )
            elif full.suffix.lower() not in (".csv", ".parquet"):
                problems.append(
                    (("actual", key), f"data file {rel!r} must end in .csv or .parquet")
                )
    return problems


def load(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Load, validate and resolve a scenario file.

    ``overrides`` replace top-level sections' keys after loading, e.g.
    ``{"seed": 3, "loop.rounds": 2, "executor.kind": "dask"}``.

    Raises:
        ScenarioError: anything wrong with the file, naming the file, line and field.
    """
    p = Path(path)
    data, lines = read_with_overrides(p, overrides)
    if "gan" in data:
        raise ScenarioError(
            "this is a GAN scenario (it has a 'gan' section); load it with "
            "parallel.gan.scenario.load_gan, or run it with `parallel run`",
            file=p,
        )
    sc = validate(Scenario, data, lines, p)
    if sc.network.kind == "file":
        if not sc.network.file:
            raise ScenarioError(
                "network.kind 'file' needs network.file (a .net.xml or graph .json)",
                file=p,
                line=line_of(lines, ("network", "kind"))[0],
                field="network.file",
            )
        full = Path(sc.source_dir) / sc.network.file
        if not full.is_file():
            raise ScenarioError(
                f"network file {str(full)!r} not found",
                file=p,
                line=line_of(lines, ("network", "file"))[0],
                field="network.file",
            )
        sc = sc.model_copy(
            update={"network": sc.network.model_copy(update={"file": str(full.resolve())})}
        )
        where: dict[str, Any] = {
            "file": p,
            "line": line_of(lines, ("network", "file"))[0],
            "field": "network.file",
        }
        try:
            sc.network.origins()
        except ImportError:
            raise ScenarioError(
                "reading a SUMO .net.xml needs sumolib: pip install -e '.[sumo]'", **where
            ) from None
        except Exception as exc:  # whatever the parser raises, it is the user's file
            raise ScenarioError(
                f"cannot read network file {str(full)!r} ({type(exc).__name__}: {exc}); give a "
                "SUMO .net.xml or a graph .json written by `parallel record`",
                **where,
            ) from None
    if isinstance(sc.actual, ReferenceWorld) and sc.network.kind != "arterial":
        raise ScenarioError(
            "the reference world runs on an arterial only; use world 'sumo' for a grid",
            file=p,
            line=line_of(lines, ("actual", "world"))[0],
            field="actual.world",
        )
    if isinstance(sc.actual, SumoWorld) and sc.network.kind == "arterial":
        raise ScenarioError(
            "the sumo world needs network.kind 'sumo_grid' or 'file'",
            file=p,
            line=line_of(lines, ("network", "kind"))[0],
            field="network.kind",
        )
    for check in (_check_origins, _check_design, _check_paths):
        for loc, msg in check(sc):
            line, _ = line_of(lines, loc)
            raise ScenarioError(msg, file=p, line=line, field=".".join(map(str, loc)))
    return sc


def resolved_yaml(sc: Scenario) -> str:
    """The scenario with every default filled in, as YAML."""
    data = sc.model_dump(mode="json", exclude={"source_dir"})
    if isinstance(sc.actual, ReplayWorld):
        # absolute, so the resolved file loads from the run folder too
        for key in ("vehicles", "detectors"):
            data["actual"][key] = str((Path(sc.source_dir) / getattr(sc.actual, key)).resolve())
    return yaml.safe_dump(data, sort_keys=False)
