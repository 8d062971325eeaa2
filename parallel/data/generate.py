"""``parallel generate table | driving``: small data to big data, as Parquet shards.

* ``table`` samples a generator folder written by ``parallel train``.
* ``driving`` either samples a generator folder the same way (vehicle records learned
  from observed ones), or, given a run folder from ``parallel run``, runs the artificial
  world with the run's calibrated parameters and applied plan over many replications,
  spread over the executor, and writes their vehicle records plus a ``trajectories/``
  dataset (one row per vehicle and link: entry, stop-line arrival and exit times).
"""

from __future__ import annotations

import argparse
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
from parallel.data.shards import sha256_file, write_shards
from parallel.traffic.observation import VEHICLE_SCHEMA

Progress = Callable[[int, int], None]


def _check_rows(args: argparse.Namespace) -> None:
    if args.rows <= 0:
        raise UserInputError(f"--rows {args.rows}: give a positive number of rows")
    if args.shard_rows <= 0:
        raise UserInputError(f"--shard-rows {args.shard_rows}: give a positive number of rows")


def generate_table(args: argparse.Namespace, progress: Progress | None = None) -> dict[str, Any]:
    """Sample ``args.rows`` rows from the generator folder ``args.source``.

    Raises:
        UserInputError: bad options, or a folder that is not a generator or that holds a
            different dataset.
    """
    from parallel.gan.synth import TableSampler

    _check_rows(args)
    if not args.source.is_dir():
        raise DataError(
            f"--from {args.source}: no such folder; give a `parallel train` --out folder"
        )
    sampler = TableSampler(args.source, args.device)
    source = {
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
            args.out,
            sampler.sample,
            rows=args.rows,
            seed=args.seed,
            schema=sampler.encoder.schema(),
            source=source,
            shard_rows=args.shard_rows,
            batch_rows=min(args.shard_rows, 50_000),
            progress=progress,
            extra={"generator_folder": str(args.source), "notes": sampler.encoder.notes},
            threads=(os.cpu_count() or 1) if sampler.on_cpu else 1,
        )


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


def generate_driving(args: argparse.Namespace, progress: Progress | None = None) -> dict[str, Any]:
    """Vehicle records (and trajectories) from a generator folder or a run folder.

    Raises:
        UserInputError: bad options, or a folder that is neither a generator nor a run.
    """
    _check_rows(args)
    if (args.source / "checkpoint.pt").is_file():
        return generate_table(args, progress)
    if (args.source / "scenario.resolved.yaml").is_file():
        return _driving_from_run(args, progress)
    raise DataError(
        f"--from {args.source}: neither a generator folder (from `parallel train`) nor a run "
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
    final = json.loads(hist_path.read_text())["final"]
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


def _driving_from_run(args: argparse.Namespace, progress: Progress | None) -> dict[str, Any]:
    from parallel.core.executors import make_executor

    spec, params, plan, source = run_world(args.source)
    run = args.source
    ex = make_executor(args.executor, args.workers)

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
            args.out,
            batch,
            rows=args.rows,
            seed=args.seed,
            schema=schema,
            source=source,
            shard_rows=args.shard_rows,
            batch_rows=min(args.shard_rows, 20_000),
            progress=progress,
            extra={"run_folder": str(run), "executor": ex.name},
        )
    finally:
        ex.close()


def _replicate(item: tuple[Any, ...]) -> pa.Table:
    from parallel.traffic.artificial.model import simulate_driving

    spec, params, plan, seed, run = item
    return simulate_driving(spec, params, plan, seed, run)


def generate_images(args: argparse.Namespace, progress: Progress | None = None) -> dict[str, Any]:
    """``args.per_class`` images of every class from the image generator ``args.source``,
    as Parquet shards (``label``, ``class_index``, ``png``) with a manifest.

    Raises:
        UserInputError: bad options, a folder that is not an image generator, or one that
            holds a different dataset.
    """
    from parallel.gan.images import ImageSampler

    if args.per_class is None or args.per_class <= 0:
        raise UserInputError(f"--per-class {args.per_class}: give a positive number of images")
    sampler = ImageSampler(args.source, args.device)
    n_cls = len(sampler.classes)
    batch_rows = n_cls * max(1, 256 // n_cls)  # whole rounds of classes per batch
    return write_shards(
        args.out,
        sampler.batch(),
        rows=args.per_class * n_cls,
        seed=args.seed,
        schema={"label": "dictionary<string>", "class_index": "int32", "png": "binary (PNG)"},
        source={
            "kind": "image generator",
            "checkpoint_sha256": sha256_file(args.source / "checkpoint.pt"),
            "classes": sampler.classes,
            "trained_on": sampler.meta["source"],
        },
        shard_rows=batch_rows * 40,
        batch_rows=batch_rows,
        progress=progress,
        extra={"per_class": args.per_class, "size": sampler.meta["size"]},
    )
