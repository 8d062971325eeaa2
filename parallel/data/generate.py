"""``parallel generate table | driving``: small data to big data, as Parquet shards.

* ``table`` samples a generator folder written by ``parallel train``.
* ``driving`` either samples a generator folder the same way (vehicle records learned
  from observed ones), or, given a run folder from ``parallel run``, runs the artificial
  world with the run's calibrated parameters and applied plan over many replications,
  spread over the executor, and writes their vehicle records plus a ``trajectories/``
  dataset (one row per vehicle and link: entry, stop-line arrival and exit times).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from parallel.core.errors import DataError, UserInputError
from parallel.core.runfolder import read_json
from parallel.data.shards import check_plan, sha256_file, write_shards
from parallel.traffic.observation import VEHICLE_SCHEMA

Progress = Callable[[int, int], None]


def _check_rows(rows: int, shard_rows: int) -> None:
    if rows <= 0:
        raise UserInputError(f"rows={rows}: give a positive number of rows")
    if shard_rows <= 0:
        raise UserInputError(f"shard_rows={shard_rows}: give a positive number of rows")
    check_plan(rows, shard_rows)


def generate_table(
    *,
    source: Path,
    out: Path,
    rows: int,
    seed: int = 0,
    shard_rows: int = 1_000_000,
    device: str = "cpu",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Sample ``rows`` rows from the generator folder ``source`` into ``out``; returns the
    manifest. An interrupted call resumes where it stopped.

    Raises:
        UserInputError: bad arguments, or a folder that is not a generator or that holds a
            different dataset.
    """
    from parallel.gan.synth import TableSampler

    _check_rows(rows, shard_rows)
    if not source.is_dir():
        raise DataError(f"{source}: no such folder; give a `parallel train` --out folder")
    sampler = TableSampler(source, device)
    what = {
        "kind": "table generator",
        # how rows follow from the seed; part of the dataset's identity, so a folder
        # begun by a version that drew its latent otherwise is refused, never mixed
        "sampling": "latent: Box-Muller float32; categories: inverse CDF",
        "checkpoint_sha256": sampler.checkpoint_sha256,
        "config_hash": sampler.config_digest,
        "step": sampler.step,
        "trained_on": sampler.source,
    }
    with _one_blas_thread(sampler.backend):
        # one BLAS thread per batch and batches in parallel threads beat one batch on all
        # threads: decoding and drawing noise are single-threaded (1.2M vs 0.8M rows/s)
        return write_shards(
            out,
            sampler.sample,
            rows=rows,
            seed=seed,
            schema=sampler.encoder.schema(),
            source=what,
            shard_rows=shard_rows,
            batch_rows=min(shard_rows, 50_000),
            progress=progress,
            extra={"generator_folder": str(source), "notes": _notes(sampler, source)},
            threads=(os.cpu_count() or 1) if sampler.on_cpu else 1,
        )


def _notes(sampler: Any, source: Path) -> list[str]:
    """What a user should know about the generator: the encoder's notes, and a training
    that stopped before its planned steps (killed, or interrupted)."""
    notes = list(sampler.encoder.notes)
    planned = int(sampler.config.get("steps", sampler.step))
    if sampler.step < planned:
        notes.append(
            f"the generator in {source} was trained {sampler.step} of its {planned} steps "
            "(its training stopped early); continue it with `parallel train DATA --out "
            f"{source} --resume` for the generator it was meant to be"
        )
    return notes


@contextlib.contextmanager
def _one_blas_thread(backend: str) -> Iterator[None]:
    """Limit numpy's BLAS (numpy backend) or torch to one thread per call, then restore."""
    if backend == "numpy":
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def generate_driving(
    *,
    source: Path,
    out: Path,
    rows: int,
    seed: int = 0,
    shard_rows: int = 1_000_000,
    device: str = "cpu",
    executor: str = "process",
    workers: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Vehicle records (and trajectories) from a generator folder (sampled) or a run folder
    (the artificial world replicated under its calibrated parameters and chosen plan).

    Raises:
        UserInputError: bad arguments, or a folder that is neither a generator nor a run.
    """
    _check_rows(rows, shard_rows)
    if (source / "checkpoint.pt").is_file():
        return generate_table(
            source=source, out=out, rows=rows, seed=seed, shard_rows=shard_rows,
            device=device, progress=progress,
        )  # fmt: skip
    if (source / "scenario.resolved.yaml").is_file():
        return _driving_from_run(source, out, rows, seed, shard_rows, executor, workers, progress)
    raise DataError(
        f"{source}: neither a generator folder (from `parallel train`) nor a run "
        "folder (from `parallel run`)"
    )


def run_world(run: Path) -> tuple[Any, Any, Any, dict[str, Any]]:
    """(spec, params, plan, provenance) of a finished ``parallel run`` folder: its network,
    its calibrated parameters and the plan it applied (or recommended).

    Raises:
        DataError: not a finished run folder.
    """
    from parallel.traffic.scenario import Plan, load
    from parallel.traffic.world import Params, WorldSpec

    if not (run / "scenario.resolved.yaml").is_file():
        raise DataError(f"--from {run}: not a run folder (no scenario.resolved.yaml)")
    hist_path = run / "history.json"
    if not hist_path.is_file():
        raise DataError(f"--from {run}: the run did not finish (no history.json)")
    sc = load(run / "scenario.resolved.yaml")
    final = read_json(hist_path)["final"]
    if not final.get("params"):
        raise DataError(
            f"--from {run}: the run records no fitted parameters; rerun it with this version"
        )
    plan = Plan(**{k: v for k, v in final["control"].items() if k != "label"})
    spec = WorldSpec.of(sc)
    if spec.net_file is None and (run / "sumo" / "net.net.xml").is_file():
        spec = WorldSpec(
            spec.network,
            spec.demand,
            spec.control,
            spec.interval_s,
            str(run / "sumo" / "net.net.xml"),
        )
    fitted = final["params"]
    # learned behaviours stay in the run; replicas here use the parametric models
    beh = sc.artificial.behaviours.model_copy(update={"arrivals": "poisson", "speed": "normal"})
    origins = [k.split(".", 1)[1] for k in fitted if k.startswith("demand.")]
    params = Params(
        {o: fitted[f"demand.{o}"] for o in origins},
        fitted["saturation_headway_s"],
        fitted["speed.mean_kmh"],
        fitted["speed.sd_kmh"],
        beh,
    )
    source = {
        "kind": "artificial world",
        "run": run.name,
        "scenario": sc.name,
        "plan": plan.label(),
        "params": params.flat(),
    }
    return spec, params, plan, source


def scenario_world(path: Path) -> tuple[Any, Any, Any, dict[str, Any]]:
    """(spec, params, plan, provenance) of a scenario file: its initial plan and prior
    parameters (demand from one observation of its actual world when the prior says
    ``from_counts``)."""
    from parallel.traffic.calibrate import demand_from_counts
    from parallel.traffic.scenario import load
    from parallel.traffic.world import Params, WorldSpec

    sc = load(path)
    spec, plan = WorldSpec.of(sc), sc.control.initial
    prior = sc.artificial.params
    if prior.demand == "from_counts":
        from parallel.core.seeds import Stage, stream
        from parallel.traffic.actual import make_actual

        with tempfile.TemporaryDirectory() as tmp:
            world = make_actual(sc, Path(tmp))
            obs = world.observe(plan, stream(sc.seed, Stage.ACTUAL, 0))
            spec = replace(spec, net_file=getattr(world, "net_file", None) or spec.net_file)
        demand = demand_from_counts(spec, obs)
    else:
        demand = dict(prior.demand)
    params = Params.from_prior(prior, sc.artificial.behaviours, demand)
    source = {
        "kind": "scenario",
        "scenario": sc.name,
        "file": str(path),
        "plan": plan.label(),
        "params": params.flat(),
    }
    return spec, params, plan, source


def _driving_from_run(
    run: Path,
    out: Path,
    rows: int,
    seed: int,
    shard_rows: int,
    executor: str,
    workers: int | None,
    progress: Progress | None,
) -> dict[str, Any]:
    from parallel.core.executors import make_executor

    spec, params, plan, source = run_world(run)
    ex = make_executor(executor, workers)

    def batch(k: int, ss: np.random.SeedSequence) -> pa.Table:
        # a batch takes as many replications as it needs, a wave of them per executor map
        tables: list[pa.Table] = []
        have, wave = 0, 0
        while have < k:
            items = []
            for j in range(max(ex.workers, 1)):
                key = (*ss.spawn_key, wave, j)
                items.append(
                    (
                        spec,
                        params,
                        plan,
                        np.random.SeedSequence(ss.entropy, spawn_key=key),
                        "-".join(map(str, key)),
                    )
                )
            for t in ex.map(_replicate, items):
                tables.append(t)
                have += t.num_rows
            wave += 1
        return pa.concat_tables(tables).slice(0, k).combine_chunks()

    schema = {
        **{k: v for k, v in VEHICLE_SCHEMA.items()},
        "run": "string",
        "links": "list<string>",
        "t_enter_s": "list<double>",
        "t_stopline_s": "list<double>",
        "t_exit_s": "list<double>",
    }
    try:
        return write_shards(
            out,
            batch,
            rows=rows,
            seed=seed,
            schema=schema,
            source=source,
            shard_rows=shard_rows,
            batch_rows=min(shard_rows, 20_000),
            progress=progress,
            extra={"run_folder": str(run), "executor": ex.name},
        )
    finally:
        ex.close()


def _replicate(item: tuple[Any, ...]) -> pa.Table:
    from parallel.traffic.artificial.model import simulate_driving

    spec, params, plan, seed, run = item
    return simulate_driving(spec, params, plan, seed, run)


def generate_images(
    *,
    source: Path,
    out: Path,
    per_class: int,
    seed: int = 0,
    device: str = "cpu",
    format: str = "parquet",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """``per_class`` images of every class from the image generator ``source``, as Parquet
    shards (``label``, ``class_index``, ``png``) with a manifest, or with
    ``format="imagefolder"`` as ``out/<class>/<n>.png`` (what torchvision's ImageFolder
    and most training scripts read) beside a manifest.

    Raises:
        UserInputError: bad arguments, a folder that is not an image generator, or one that
            holds a different dataset.
    """
    from parallel.gan.images import ImageSampler

    if per_class <= 0:
        raise UserInputError(f"per_class={per_class}: give a positive number of images")
    if format not in ("parquet", "imagefolder"):
        raise UserInputError(f"format={format!r}: choose parquet or imagefolder")
    sampler = ImageSampler(source, device)
    n_cls = len(sampler.classes)
    batch_rows = n_cls * max(1, 256 // n_cls)  # whole rounds of classes per batch
    if format == "imagefolder":
        return _image_folder(sampler, source, out, per_class, seed, batch_rows, progress)
    return write_shards(
        out,
        sampler.batch(),
        rows=per_class * n_cls,
        seed=seed,
        schema={"label": "dictionary<string>", "class_index": "int32", "png": "binary (PNG)"},
        source={
            "kind": "image generator",
            "checkpoint_sha256": sha256_file(sampler.weights),
            "classes": sampler.classes,
            "trained_on": sampler.meta["source"],
        },
        shard_rows=batch_rows * 40,
        batch_rows=batch_rows,
        progress=progress,
        extra={"per_class": per_class, "size": sampler.meta["size"]},
    )


def _image_folder(
    sampler: Any,
    source: Path,
    out: Path,
    per_class: int,
    seed: int,
    batch_rows: int,
    progress: Progress | None,
) -> dict[str, Any]:
    """``out/<class>/<n>.png``: batch b draws from ``SeedSequence(seed, spawn_key=(0, b))``;
    row i of a batch is class i mod n_classes. Files are written atomically and a rerun
    skips batches whose files are all there."""
    from parallel.core.runfolder import atomic_write
    from parallel.data.shards import MANIFEST, previous_manifest

    classes = sampler.classes
    n_cls = len(classes)
    manifest = {
        "format": "imagefolder",
        "per_class": per_class,
        "seed": seed,
        "classes": classes,
        "source": {
            "kind": "image generator",
            "checkpoint_sha256": sha256_file(sampler.weights),
        },
        "seed_scheme": "batch b: SeedSequence(seed, spawn_key=(0, b)); row i is class i mod n",
        "complete": False,
    }
    if out.exists() and not out.is_dir():
        raise UserInputError(f"--out {out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    previous_manifest(out, manifest, tuple(k for k in manifest if k != "complete"), ())
    atomic_write(out / MANIFEST, json.dumps(manifest, indent=1))
    per_batch = batch_rows // n_cls
    n_batches = -(-per_class // per_batch)
    make = sampler.batch()
    for b in range(n_batches):
        k = min(per_batch, per_class - b * per_batch)
        names = [out / c / f"{b * per_batch + j:06d}.png" for j in range(k) for c in classes]
        if not all(p.is_file() for p in names):
            table = make(k * n_cls, np.random.SeedSequence(seed, spawn_key=(0, b)))
            labels = table.column("label").to_pylist()
            pngs = table.column("png").to_pylist()
            for i, (label, png) in enumerate(zip(labels, pngs)):
                (out / label).mkdir(exist_ok=True)
                atomic_write(out / label / f"{b * per_batch + i // n_cls:06d}.png", png)
        if progress:
            progress(min((b + 1) * per_batch, per_class) * n_cls, per_class * n_cls)
    manifest["complete"] = True
    manifest["rows"] = per_class * n_cls
    atomic_write(out / MANIFEST, json.dumps(manifest, indent=1))
    return manifest
