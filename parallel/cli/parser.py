"""The argument parser of ``parallel``: every command, its options and their help."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from parallel import __version__
from parallel.core.executors import EXECUTORS


def _count(least: int) -> Any:
    """An argparse type: a whole number of at least ``least`` (argparse then names the
    flag and exits 2; ``--rounds 0`` is the option's mistake, not the scenario file's)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"{value} is below {least}; give at least {least}")
        return value

    parse.__name__ = "count"
    return parse


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="parallel",
        description="Parallel systems: artificial worlds "
        "beside actual ones, computational experiments, parallel execution.",
    )
    p.add_argument("--version", action="version", version=f"parallel {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = p.add_subparsers(dest="command", required=True)

    _traffic_commands(sub)
    _gan_commands(sub)
    _tool_commands(sub)
    return p


def _traffic_commands(sub: Any) -> None:
    """validate, run, record."""
    v = sub.add_parser(
        "validate",
        help="check a scenario file without running it",
        epilog="example: parallel validate scenarios/cologne8.yaml",
    )
    v.add_argument("scenario", type=Path, help="a scenario .yaml (traffic, city or GAN)")

    r = sub.add_parser(
        "run",
        help="run a scenario through the parallel loop",
        epilog="examples: parallel run scenarios/quickstart.yaml; "
        "parallel run scenarios/intersection.yaml --executor dask --rounds 2; "
        "parallel run scenarios/cologne8.yaml --resume reports/cologne8/20261204-101500-s1",
    )
    r.add_argument("scenario", type=Path, help="a scenario .yaml (traffic, city or GAN)")
    r.add_argument("--out", type=Path, help="parent folder of the run folder (default: report.dir)")
    r.add_argument("--executor", choices=EXECUTORS.names(), help="where replications run")
    r.add_argument("--workers", type=_count(1), help="worker processes (default: all cores)")
    r.add_argument("--seed", type=_count(0), help="override the scenario's seed")
    r.add_argument("--rounds", type=_count(1), help="override loop.rounds")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    r.add_argument("--device", default="auto", help="GAN scenarios: auto, cpu, cuda or mps")
    r.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="city scenarios: continue the interrupted run in RUN_DIR (a folder `parallel "
        "run` made) from the round after its last finished one",
    )

    rec = sub.add_parser(
        "record",
        help="observe a scenario's actual world once and write the data",
        epilog="examples: parallel record scenarios/grid3.yaml --out observed (a city "
        "scenario: SUMO under the network's own programs; replay it with sumo.replay); "
        "parallel record scenarios/sumo_grid.yaml --out observed",
    )
    rec.add_argument("scenario", type=Path, help="a traffic or city scenario .yaml")
    rec.add_argument("--out", type=Path, required=True, help="folder for the recording")
    rec.add_argument("--seed", type=_count(0), help="override the scenario's seed")


def _gan_commands(sub: Any) -> None:
    """train, generate, evaluate: small data to big data."""
    tr = sub.add_parser(
        "train",
        help="train a GAN on a table (CSV or Parquet) or a GAN scenario (.yaml)",
        epilog="examples: parallel train scenarios/data/gan/vehicle_records.csv --out gen; "
        "parallel train small.csv --model naive --target label --out gen; "
        "parallel train IMAGES_DIR --out imggen; parallel train IMAGES_DIR --model gaussian --out imggen",
    )
    tr.add_argument(
        "data", type=Path, help="a .csv or .parquet table, an image folder, or a GAN scenario"
    )
    tr.add_argument(
        "--out",
        type=Path,
        help="generator folder (default: reports/generators/<data name>, a new one per run)",
    )
    for opt, what in (
        ("steps", "generator steps"),
        ("loss", "GAN loss"),
        ("pac", "PacGAN packing"),
        ("batch_size", "samples per batch"),
    ):
        tr.add_argument(
            "--" + opt.replace("_", "-"),
            type=str if opt == "loss" else int,
            default=None,
            help=f"{what} (default: {_default_text(opt)})",
        )
    tr.add_argument(
        "--max-categories",
        type=_count(1),
        default=50,
        help="categories kept per column; the rest become 'other' (default 50)",
    )
    tr.add_argument("--seed", type=_count(0), default=None)
    tr.add_argument("--checkpoint-every", type=_count(1), default=None)
    tr.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    tr.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    tr.add_argument("--size", type=int, default=32, help="image folders: 32 or 64 px")
    tr.add_argument(
        "--model",
        choices=("gan", "naive", "gaussian", "kernel"),
        default="gan",
        help="tables: gan (the table GAN) or naive (class-conditional, independent columns: "
        "for a few rows per class; fits in a second, needs no torch); image folders: gan "
        "(the DCGAN) or gaussian (class means, a pooled Ledoit-Wolf spread and classical "
        "deformations: for a few images per class; fits in a second) or kernel (each real "
        "image with that spread, its pen width and two deformations: for a few images per "
        "class and a CNN) (default gan)",
    )
    tr.add_argument(
        "--target",
        default=None,
        help="--model naive: the class column whose classes rows are drawn by (default: none, "
        "one class)",
    )

    _generate_commands(sub)


#: kind -> (what it writes, what --from takes, an example)
_GENERATE_KINDS = {
    "table": (
        "rows sampled from a table generator (parallel train DATA.csv)",
        "a generator folder (parallel train --out)",
        "parallel generate table --from gen --rows 10000000 --out synth",
    ),
    "driving": (
        "vehicle records with trajectories, from a table generator or a run folder",
        "a generator folder, or a run folder (parallel run)",
        "parallel generate driving --from reports/intersection/RUN --rows 100000 --out drv",
    ),
    "vision": (
        "labelled frames (COCO boxes, masks, counts) of simulated traffic",
        "a run folder or a scenario .yaml",
        "parallel generate vision --from scenarios/intersection.yaml --frames 1000 --out vis",
    ),
    "images": (
        "images per class from an image generator (parallel train IMAGES_DIR)",
        "an image generator folder (parallel train IMAGES_DIR --out)",
        "parallel generate images --from imggen --per-class 1000 --format imagefolder --out img",
    ),
}


def _generate_options(k: argparse.ArgumentParser, kind: str) -> None:
    """The options of one `generate` kind, and only those."""
    if kind in ("table", "driving"):
        k.add_argument("--rows", type=_count(1), required=True, help="rows to write")
        k.add_argument(
            "--shard-rows", type=_count(1), default=1_000_000, help="rows per Parquet shard"
        )
    if kind in ("table", "driving", "images"):
        k.add_argument("--device", default="cpu", help="auto, cpu, cuda or mps (default cpu)")
    if kind in ("driving", "vision"):
        k.add_argument("--executor", choices=EXECUTORS.names(), default="process")
        k.add_argument("--workers", type=_count(1), help="worker processes (default: all cores)")
    if kind == "vision":
        k.add_argument("--frames", type=_count(1), required=True, help="frames to render")
        k.add_argument("--size", type=int, default=128, help="frame size in pixels (default 128)")
        k.add_argument("--view", choices=["bev", "camera"], default="bev", help="the view")
        k.add_argument(
            "--randomize",
            nargs="*",
            help="lighting, palette, noise, blur, weather, jitter (comma or space separated), "
            "all, or none",
        )
        k.add_argument("--chunk-frames", type=_count(1), default=250, help="frames per chunk")
    if kind == "images":
        k.add_argument("--per-class", type=_count(1), required=True, help="images per class")
        k.add_argument(
            "--format",
            choices=["parquet", "imagefolder"],
            default="parquet",
            help="Parquet shards, or OUT/<class>/<n>.png (default parquet)",
        )


def _vision_eval_options(vis: Any) -> None:
    """`evaluate vision`'s options."""
    vis.add_argument("--real", type=Path, required=True, help="held-out real images (ImageFolder)")
    vis.add_argument(
        "--synthetic", type=Path, required=True, help="`generate images` output or an ImageFolder"
    )
    vis.add_argument("--out", type=Path, required=True, help="report folder")
    vis.add_argument(
        "--train", type=Path, help="the small real training set (for TSTR and the baseline)"
    )
    vis.add_argument("--seed", type=_count(0), default=0)
    vis.add_argument(
        "--seeds", type=_count(1), default=1,
        help="seeds per utility arm (default 1; each trains a CNN per arm)",
    )  # fmt: skip
    vis.add_argument(
        "--classifier-steps", type=_count(1), default=600,
        help="Adam steps of each small CNN (default 600)",
    )  # fmt: skip
    vis.add_argument(
        "--ratios", type=float, nargs="+", metavar="R", default=[1.0, 4.0],
        help="added images as multiples of the small real set (default 1 4; needs --train)",
    )  # fmt: skip
    vis.add_argument(
        "--curve",
        type=_count(1),
        nargs="+",
        metavar="K",
        help="augmentation curve: real images per class to train on, e.g. 5 10 20 (needs --train)",
    )


def _generate_commands(sub: Any) -> None:
    """generate and evaluate."""
    gen = sub.add_parser(
        "generate",
        help="write a big synthetic dataset: table, driving, vision or images",
        description="Write a big synthetic dataset from a small trained generator or a run. "
        "Each kind has its own options: parallel generate KIND --help.",
    )
    kinds = gen.add_subparsers(dest="what", required=True, metavar="KIND")
    for kind, (text, source, example) in _GENERATE_KINDS.items():
        k = kinds.add_parser(kind, help=text, description=text + ".", epilog="example: " + example)
        k.add_argument("--from", dest="source", type=Path, required=True, help=source)
        k.add_argument(
            "--out", type=Path, required=True, help="dataset folder (new, or one to resume)"
        )
        k.add_argument(
            "--seed", type=_count(0), default=0, help="root seed of the dataset (default 0)"
        )
        _generate_options(k, kind)

    ev = sub.add_parser(
        "evaluate",
        help="fidelity and downstream utility of synthetic data",
        epilog="examples: parallel evaluate vision --real heldout --synthetic img --out eval; "
        "parallel evaluate table --real small.csv --test heldout.csv --target label "
        "--synthetic synth --out eval",
    )
    kinds = ev.add_subparsers(dest="what", required=True, metavar="{vision,table}")
    vis = kinds.add_parser(
        "vision",
        help="synthetic images against held-out real ones",
        epilog="example: parallel evaluate vision --real heldout --synthetic img --out eval",
    )
    _vision_eval_options(vis)
    tab = kinds.add_parser(
        "table",
        help="does a synthetic table help a classifier? every baseline in one run",
        epilog="example: parallel evaluate table --real small.csv --test heldout.csv "
        "--target label --synthetic synth --out eval",
    )
    tab.add_argument("--real", type=Path, required=True, help="the small real training table")
    tab.add_argument("--test", type=Path, required=True, help="held-out real rows to score on")
    tab.add_argument("--target", required=True, help="the column to predict")
    tab.add_argument(
        "--synthetic", type=Path, help="a `generate table` folder or a table (optional)"
    )
    tab.add_argument("--out", type=Path, required=True, help="report folder")
    tab.add_argument("--seeds", type=_count(1), default=5, help="seeds per arm (default 5)")
    tab.add_argument(
        "--ratios", type=float, nargs="+", metavar="R", default=[0.5, 1.0, 2.0, 4.0],
        help="added rows as multiples of the real rows (default 0.5 1 2 4)",
    )  # fmt: skip
    tab.add_argument(
        "--curve", type=_count(2), nargs="+", metavar="K",
        help="also train on K real rows per class, e.g. 5 10 20, for the curve",
    )  # fmt: skip


def _tool_commands(sub: Any) -> None:
    """fidelity, verify, report."""
    fid = sub.add_parser(
        "fidelity",
        help="how far can the twin be trusted: plans judged in SUMO, the twin and SUMO MESO",
        description="Calibrate the artificial world on one SUMO observation under the "
        "incumbent plan, then run a design of plans in SUMO, the artificial world and SUMO's "
        "mesoscopic model; write fidelity.json and report.html.",
        epilog="example: parallel fidelity scenarios/cologne8.yaml --plans 10 --reps 3",
    )
    fid.add_argument("scenario", type=Path, help="a city scenario (with a 'sumo:' section)")
    fid.add_argument(
        "--plans", type=_count(1), help="plans in the design (default: fidelity.plans)"
    )
    fid.add_argument(
        "--reps", type=_count(1), help="replications per plan (default: fidelity.reps)"
    )
    fid.add_argument(
        "--out", type=Path, help="output folder, new or empty (default: reports/NAME/fidelity-TIME)"
    )
    fid.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run in --out: runs that finished are not run again",
    )
    fid.add_argument("--executor", choices=EXECUTORS.names(), help="where runs go")
    fid.add_argument("--workers", type=_count(1), help="worker processes (default: all cores)")

    ver = sub.add_parser(
        "verify",
        help="check a dataset's shards against its manifest (exit 1 naming a bad shard)",
        epilog="example: parallel verify synth",
    )
    ver.add_argument("dataset", type=Path, help="a folder written by `parallel generate`")

    rep = sub.add_parser(
        "report",
        help="re-render the report of a finished run",
        epilog="example: parallel report reports/quickstart/20261202-081806-s0",
    )
    rep.add_argument("run_dir", type=Path, help="a run folder written by `parallel run`")


def _default_text(key: str) -> str:
    """A trainer default as each data kind has it: the help text quotes the code's own."""
    from parallel.gan.defaults import IMAGE_DEFAULTS, TABLE_DEFAULTS

    kinds = (("a table", TABLE_DEFAULTS), ("an image folder", IMAGE_DEFAULTS))
    parts = [f"{d[key]} for {name}" for name, d in kinds if key in d]
    return ", ".join(parts) + "; a GAN scenario's own settings for a .yaml"
