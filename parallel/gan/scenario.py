"""GAN scenario files: a GAN run through the parallel loop.

A scenario with a ``gan:`` section is a GAN scenario. Its actual system is a dataset (a
PacGAN toy or a table); its artificial system is the generator; its judge is the
discriminator plus the shared distances and the C2ST; adapt is a block of training
steps per round. ``parallel run`` runs it and writes the usual report;
``parallel train`` trains it without the per-round judging.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from parallel.config.schema import Strict, read_with_overrides, validate
from parallel.config.yamlsrc import line_of
from parallel.core.errors import ScenarioError
from parallel.gan.defaults import TOY_DEFAULTS
from parallel.gan.train import TrainConfig
from parallel.metrics.c2st import C2STConfig
from parallel.traffic.scenario import ReportConfig


class GanData(Strict):
    """The actual system: a toy distribution or a table file (exactly one of the two)."""

    toy: Literal["ring", "grid"] | None = None
    """PacGAN's toy settings: ``ring`` (8 modes) or ``grid`` (25 modes)."""
    rows: int = Field(100_000, ge=100, le=10_000_000)
    """Samples drawn from the toy distribution."""
    file: str | None = None
    """A CSV or Parquet table, relative to the scenario file."""
    holdout: float = Field(0.2, ge=0.05, le=0.5)
    """Share of the table's rows kept out of training and used only to judge."""
    max_categories: int = Field(50, ge=2, le=10_000)
    """Categories kept per categorical column; the rest become ``other``."""

    @model_validator(mode="after")
    def _one_source(self) -> GanData:
        if (self.toy is None) == (self.file is None):
            raise ValueError("give exactly one of 'toy' (ring or grid) and 'file' (a table)")
        return self


class GanJudge(Strict):
    """How generated samples are judged each round."""

    samples: int = Field(2500, ge=100, le=200_000)
    """Real and generated rows compared per round."""
    c2st: C2STConfig = C2STConfig(permutations=100, max_rows=2000)
    """Classifier two-sample test between held-out real rows and generated rows."""


class GanLoop(Strict):
    """The loop: the training steps are split evenly over the rounds."""

    rounds: int = Field(8, ge=1, le=200)
    """Rounds of observe, imitate, judge and adapt."""


class GanSampling(Strict):
    """How the generator is sampled when it imitates the actual system."""

    keep: float = Field(1.0, gt=0, le=1)
    """Jacobian-based truncation: the share of latent draws kept, those where the
    generator stretches least (the rest fall on "bridges" between modes). 1 = plain
    sampling. Unconditional numeric generators (toys) only."""


class GanSection(Strict):
    """The GAN: its data (the actual system), its training and its sampling."""

    data: GanData
    """The actual system."""
    train: TrainConfig = TrainConfig()
    """Trainer settings; keys left out take the defaults for the data (toy or table)."""
    sampling: GanSampling = GanSampling()
    """How generated samples are drawn for judging."""

    @model_validator(mode="after")
    def _truncation_on_toys(self) -> GanSection:
        if self.sampling.keep < 1 and self.data.toy is None:
            raise ValueError(
                "sampling.keep < 1 (Jacobian truncation) applies to toy data only; "
                "leave it at 1 for tables"
            )
        return self


class GanScenario(Strict):
    """A whole GAN scenario file."""

    name: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
    """Scenario name; names the output folder. Letters, digits, ``_ . -``, at most 64,
    starting with a letter, digit or ``_`` (so it can never be ``..``)."""
    description: str = ""
    """Free text shown in the report."""
    seed: int = Field(0, ge=0, le=2**63 - 1, strict=True)
    """Root seed: training, sampling and judging draw from it."""
    gan: GanSection
    """The GAN."""
    judge: GanJudge = GanJudge()
    """Per-round judging."""
    loop: GanLoop = GanLoop()
    """The loop."""
    report: ReportConfig = ReportConfig()
    """Outputs."""
    source_dir: str = Field(".", exclude=True)
    """(internal) folder of the scenario file."""


def train_config(sc: GanScenario) -> TrainConfig:
    """The scenario's trainer settings: the data kind's defaults, then the keys given."""
    from parallel.gan.synth import TABLE_DEFAULTS

    base = dict(TOY_DEFAULTS if sc.gan.data.toy else TABLE_DEFAULTS)
    given = {k: getattr(sc.gan.train, k) for k in sc.gan.train.model_fields_set}
    return TrainConfig(**(base | given | {"seed": given.get("seed", sc.seed)}))


def is_gan_scenario(path: Path) -> bool:
    """Whether the YAML file has a top-level ``gan:`` section (without validating it; read
    with the scenario loader's limits, so no alias bomb can expand)."""
    from parallel.config.yamlsrc import load_yaml
    from parallel.core.errors import ScenarioError

    try:
        data, _ = load_yaml(path)
    except ScenarioError:
        return False
    return "gan" in data


def _check_as_run_would(sc: GanScenario, p: Path, lines: dict[Any, int]) -> None:
    """What ``run`` would only find later: the merged trainer settings, and a data file
    that cannot be read as a table.

    Raises:
        ScenarioError: naming the file, line and field.
    """
    from pydantic import ValidationError

    from parallel.core.errors import DataError
    from parallel.gan.tabular import read_table

    try:
        cfg = train_config(sc)
    except ValidationError as exc:
        e = exc.errors()[0]
        key = str(e["loc"][0]) if e["loc"] else "train"
        raise ScenarioError(
            e["msg"], file=p, line=line_of(lines, ("gan", "train", key))[0],
            field=f"gan.train.{key}",
        ) from None  # fmt: skip
    if cfg.batch_size % cfg.pac:
        raise ScenarioError(
            f"batch_size {cfg.batch_size} is not a multiple of pac {cfg.pac}; PacGAN judges "
            "packs of pac samples, so give a batch_size divisible by pac",
            file=p, line=line_of(lines, ("gan", "train", "pac"))[0], field="gan.train.pac",
        )  # fmt: skip
    if sc.gan.data.file is not None:
        try:
            read_table(Path(sc.source_dir) / sc.gan.data.file)
        except DataError as exc:
            raise ScenarioError(
                str(exc), file=p, line=line_of(lines, ("gan", "data", "file"))[0],
                field="gan.data.file",
            ) from None  # fmt: skip


def load_gan(path: str | Path, overrides: dict[str, Any] | None = None) -> GanScenario:
    """Load and validate a GAN scenario.

    Raises:
        ScenarioError: anything wrong with the file, naming the file, line and field.
    """
    p = Path(path)
    data, lines = read_with_overrides(p, overrides)
    sc = validate(GanScenario, data, lines, p)
    if sc.gan.data.file is not None:
        full = Path(sc.source_dir) / sc.gan.data.file
        if not full.is_file():
            raise ScenarioError(
                f"data file {str(full)!r} not found; give a .csv or .parquet file relative "
                "to the scenario file",
                file=p,
                line=line_of(lines, ("gan", "data", "file"))[0],
                field="gan.data.file",
            )
    _check_as_run_would(sc, p, lines)
    if sc.gan.train.steps < sc.loop.rounds and "steps" in sc.gan.train.model_fields_set:
        raise ScenarioError(
            f"gan.train.steps {sc.gan.train.steps} is fewer than loop.rounds {sc.loop.rounds}; "
            "every round trains at least one step",
            file=p,
            line=line_of(lines, ("gan", "train", "steps"))[0],
            field="gan.train.steps",
        )
    return sc
