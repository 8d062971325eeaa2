"""Commands of the GAN layer and the data sets: ``train``, ``generate``, ``evaluate`` and
``verify``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from parallel.cli.common import GAN_OVERRIDES, _overrides, _progress, err_console
from parallel.core.errors import UserInputError


def _train_scenario(args: argparse.Namespace, console: Console) -> int:
    """``parallel train SCENARIO.yaml``: train the GAN scenario's generator into --out."""
    from parallel.gan.machine import GanMachine
    from parallel.gan.scenario import load_gan

    sc = load_gan(args.data, _overrides(args, GAN_OVERRIDES) | ({"loop.rounds": 1}))
    _check_train_out(args)
    machine = GanMachine(sc, args.out, args.device, gen_dir=args.out)
    tr = machine.trainer
    if args.resume and tr.resume():
        console.print(f"resuming from step {tr.step}")
    with _progress(console, "training") as bar:
        task = bar.add_task("train", total=tr.cfg.steps)
        tr.fit(lambda k, n: bar.update(task, completed=k))
    # training ran outside the loop (it resumes); the machine's own closing verdict judges it
    verdict = machine.finish()
    extra = (
        f"quality {verdict['quality']['quality']:.3f}"
        if "quality" in verdict
        else f"{verdict['modes']['modes']}/{verdict['modes']['n_modes']} modes, "
        f"{100 * verdict['modes']['hq']:.1f}% high quality"
    )
    console.print(
        f"trained {tr.step} steps of {sc.name} ({tr.device}); C2ST AUC "
        f"{verdict['c2st_auc']:.3f}, {extra}; generator in {args.out}"
    )
    return 0


#: ``parallel train`` options that override the trainer's defaults
TRAIN_OPTIONS = ("steps", "loss", "pac", "seed", "checkpoint_every", "batch_size")


def _train_config(args: argparse.Namespace, defaults: dict[str, Any]) -> Any:
    """``defaults`` with the ``parallel train`` options given, as a TrainConfig.

    Raises:
        UserInputError: an option's value does not validate (named as the option).
    """
    from pydantic import ValidationError

    from parallel.gan.train import TrainConfig

    given = {k: getattr(args, k) for k in TRAIN_OPTIONS if getattr(args, k) is not None}
    try:
        return TrainConfig(**(defaults | given))
    except ValidationError as exc:
        e = exc.errors()[0]
        raise UserInputError(f"--{'-'.join(map(str, e['loc']))}: {e['msg']}") from None


def _check_train_out(args: argparse.Namespace) -> None:
    """Raises UserInputError when --out holds a checkpoint without --resume (a file or a
    user's folder was already refused by the output-folder rule)."""
    from parallel.gan.train import CHECKPOINT

    if (args.out / CHECKPOINT).is_file() and not args.resume:
        raise UserInputError(
            f"--out {args.out} already holds a checkpoint; pass --resume to continue "
            "it, or give a new folder"
        )


def _default_train_out(args: argparse.Namespace) -> None:
    if args.out is None and args.resume:
        raise UserInputError("--resume needs --out: the folder of the run to continue")
    if args.out is None:  # a fresh folder, never a used one
        base = Path("reports") / "generators" / args.data.stem
        out, k = base, 1
        while out.exists():
            k += 1
            out = base.with_name(f"{base.name}-{k}")
        args.out = out


def cmd_train(args: argparse.Namespace, console: Console) -> int:
    from parallel.gan.synth import TABLE_DEFAULTS, fit_table
    from parallel.gan.tabular import read_table

    if args.model in ("gaussian", "kernel"):
        return _train_gaussian(args, console)
    if args.model != "gan" or args.target is not None:
        _check_naive(args)
    if args.data.suffix.lower() in (".yaml", ".yml"):
        return _train_scenario(args, console)
    if args.data.is_dir():
        return _train_images(args, console)
    df = read_table(args.data)
    if args.model == "naive":
        return _train_naive(args, df, console)
    cfg = _train_config(args, TABLE_DEFAULTS)
    _check_train_out(args)
    with _progress(console, "training") as bar:
        task = bar.add_task("train", total=cfg.steps)
        trainer, enc, last = fit_table(
            df,
            args.out,
            cfg,
            device=args.device,
            resume=args.resume,
            source=str(args.data),
            progress=lambda k, n: bar.update(task, completed=k),
            max_categories=args.max_categories,
        )
    if trainer.resumed_from is not None:
        console.print(f"resuming from step {trainer.resumed_from}")
    for note in enc.notes:
        console.print(f"note: {note}")
    console.print(
        f"trained {cfg.steps} steps on {len(df):,} rows x {df.shape[1]} columns "
        f"({trainer.device}); d_loss {last.get('d_loss', float('nan')):.3f}, "
        f"g_loss {last.get('g_loss', float('nan')):.3f}; generator in {args.out}. "
        f"Next: parallel generate table --from {args.out} --rows 1000000 --out DATASET"
    )
    return 0


def _check_naive(args: argparse.Namespace) -> None:
    """The naive generator's options, before anything is read or written."""
    from parallel.gan.naive import NAIVE

    if args.model != "naive":
        raise UserInputError("--target is for --model naive (the table GAN is unconditional)")
    if args.data.is_dir() or args.data.suffix.lower() in (".yaml", ".yml"):
        raise UserInputError(
            f"{args.data}: --model naive takes a table (.csv or .parquet), not an image folder "
            "or a scenario"
        )
    if args.resume:
        raise UserInputError("--resume: the naive generator fits in one pass; drop --resume")
    if args.out is not None and (args.out / NAIVE).is_file():
        raise UserInputError(f"--out {args.out} already holds a generator; give a new folder")


def _train_naive(args: argparse.Namespace, df: Any, console: Console) -> int:
    """``parallel train DATA --model naive``: class statistics, no training loop."""
    from parallel.gan.synth import fit_naive

    model, enc = fit_naive(
        df, args.out, target=args.target, source=str(args.data), max_categories=args.max_categories
    )
    for note in enc.notes:
        console.print(f"note: {note}")
    by = f"{len(model.prior)} classes of {args.target!r}" if args.target else "one class"
    console.print(
        f"fitted the naive generator on {len(df):,} rows x {df.shape[1]} columns ({by}); "
        f"generator in {args.out}. Next: parallel generate table --from {args.out} --rows "
        "1000 --out DATASET"
    )
    return 0


def _train_gaussian(args: argparse.Namespace, console: Console) -> int:
    """``parallel train IMAGES_DIR --model gaussian`` (class means and a pooled spread) or
    ``--model kernel`` (the same spread around the real images): no training loop."""
    from parallel.gan.images import IMAGES, fit_gaussian

    if not args.data.is_dir():
        raise UserInputError(
            f"{args.data}: --model {args.model} takes an image folder (one sub-folder per class); "
            "for a table use --model naive"
        )
    if args.resume or args.target is not None:
        flag = "--resume" if args.resume else "--target"
        raise UserInputError(f"{flag}: not an option of --model {args.model}; drop it")
    if (args.out / IMAGES).is_file():
        raise UserInputError(f"--out {args.out} already holds a generator; give a new folder")
    meta = fit_gaussian(args.data, args.out, size=args.size, seed=args.seed or 0, model=args.model)
    for note in meta["notes"]:
        console.print(f"note: {note}")
    console.print(
        f"fitted the {'kernel' if args.model == 'kernel' else 'Gaussian'} image generator on "
        f"{meta['images']} images of "
        f"{len(meta['classes'])} classes (shrinkage {meta['fit']['shrinkage']:.2f}); "
        f"generator in {args.out}. Next: parallel generate images --from {args.out} "
        "--per-class 1000 --out DATASET"
    )
    return 0


def _train_images(args: argparse.Namespace, console: Console) -> int:
    """``parallel train IMAGES_DIR``: the class-conditional image GAN."""
    from parallel.gan.images import IMAGE_DEFAULTS, fit_images

    cfg = _train_config(args, IMAGE_DEFAULTS)
    _check_train_out(args)
    with _progress(console, "training") as bar:
        task = bar.add_task("train", total=cfg.steps)
        trainer, classes, notes = fit_images(
            args.data,
            args.out,
            cfg,
            size=args.size,
            device=args.device,
            resume=args.resume,
            progress=lambda k, n: bar.update(task, completed=k),
        )
    if trainer.resumed_from is not None:
        console.print(f"resuming from step {trainer.resumed_from}")
    for note in notes:
        console.print(f"note: {note}")
    console.print(
        f"trained {cfg.steps} steps on {len(trainer.data)} images of {len(classes)} classes "
        f"({trainer.device}); generator in {args.out}. Next: parallel generate images "
        f"--from {args.out} --per-class 1000 --out DATASET"
    )
    return 0


def _check_generate(args: argparse.Namespace) -> None:
    """Option checks of `generate`, naming the flags (the library names its parameters)."""
    need = {"table": "rows", "driving": "rows", "vision": "frames", "images": "per_class"}
    opt = need[args.what]
    flag = "--" + opt.replace("_", "-")
    value = getattr(args, opt)
    if value is None:
        raise UserInputError(f"generate {args.what} needs {flag} N")
    for name in (opt, "shard_rows", "chunk_frames"):  # each kind has only its own
        v = getattr(args, name, 1)
        if v <= 0:
            raise UserInputError(f"--{name.replace('_', '-')} {v}: give a positive number")
    if not args.source.exists():
        raise UserInputError(
            f"--from {args.source}: no such folder or file; give a `parallel train` --out "
            "folder, a `parallel run` folder or (vision) a scenario"
        )


def cmd_generate(args: argparse.Namespace, console: Console) -> int:
    from parallel.data.generate import generate_driving, generate_images, generate_table

    _check_generate(args)
    if args.what == "vision":
        return _generate_vision(args, console)
    common = {"source": args.source, "out": args.out, "seed": args.seed, "device": args.device}
    if args.what == "images":
        with _progress(console, "generating images") as bar:
            task = bar.add_task("images", total=None)
            manifest = generate_images(
                **common,
                per_class=args.per_class,
                format=args.format,
                progress=lambda k, n: bar.update(task, completed=k, total=n),
            )
        where = (
            "one folder per class" if args.format == "imagefolder"
            else "Parquet shards under data/: label, class_index, png"
        )  # fmt: skip
        console.print(
            f"wrote {manifest['rows']:,} images ({args.per_class} per class) to {args.out} "
            f"({where})"
        )
        return 0
    kw: dict[str, Any] = {**common, "rows": args.rows, "shard_rows": args.shard_rows}
    if args.what == "driving":
        kw |= {"executor": args.executor, "workers": args.workers}
    fn: Any = generate_table if args.what == "table" else generate_driving
    with _progress(console, f"generating {args.what} rows") as bar:
        task = bar.add_task("rows", total=args.rows)
        manifest = fn(**kw, progress=lambda k, n: bar.update(task, completed=k, total=n))
    for note in manifest.get("notes", []):
        console.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False)
    console.print(
        f"wrote {manifest['rows']:,} rows in {len(manifest['shards'])} shard(s) to {args.out} "
        f"(seed {manifest['seed']}; manifest {args.out / 'manifest.json'})"
    )
    return 0


def _generate_vision(args: argparse.Namespace, console: Console) -> int:
    import time

    from parallel.vision.dataset import generate_vision

    t0 = time.perf_counter()
    with _progress(console, "rendering frames") as bar:
        task = bar.add_task("frames", total=args.frames)
        manifest = generate_vision(
            source=args.source,
            out=args.out,
            frames=args.frames,
            seed=args.seed,
            size=args.size,
            view=args.view,
            randomize=args.randomize,
            chunk_frames=args.chunk_frames,
            executor=args.executor,
            workers=args.workers,
            progress=lambda k, n: bar.update(task, completed=k, total=n),
        )
    wall = time.perf_counter() - t0
    console.print(
        f"wrote {manifest['frames']:,} labelled {args.size} px {args.view} frames to {args.out} "
        f"in {wall:.1f} s ({manifest['frames'] / wall:.0f} frames/s; COCO parts in coco/, masks "
        f"in masks/, counts in frames/)"
    )
    return 0


def _evaluate_table(args: argparse.Namespace, console: Console) -> int:
    from parallel.core.runfolder import atomic_write, dumps
    from parallel.data.utility import evaluate_table, read_synthetic
    from parallel.gan.tabular import read_table
    from parallel.report.utility import render_utility

    if any(r <= 0 or r > 100 for r in args.ratios):
        raise UserInputError(f"--ratios {args.ratios}: each must be in (0, 100]")
    names = {"real": args.real, "test": args.test, "synthetic": args.synthetic}
    real, test = read_table(args.real), read_table(args.test)
    syn = read_synthetic(args.synthetic) if args.synthetic is not None else None
    with _progress(console, "training classifiers") as bar:
        task = bar.add_task("seeds", total=None)
        m = evaluate_table(
            real=real, test=test, target=args.target, synthetic=syn, ratios=args.ratios,
            seeds=args.seeds, curve=args.curve, names=names,
            progress=lambda k, n: bar.update(task, completed=k, total=n),
        )  # fmt: skip
    m["files"] = {k: None if v is None else str(v) for k, v in names.items()}
    atomic_write(args.out / "metrics.json", dumps(m) + "\n")
    atomic_write(args.out / "report.html", render_utility(m))
    res = m["results"]
    best = max(res, key=lambda a: res[a]["logistic:accuracy"]["mean"])
    base = res["real_only"]["logistic:accuracy"]
    console.print(
        f"logistic regression accuracy on held-out rows: real only {base['mean']:.3f} "
        f"(s.e. {base['se']:.3f}); best arm {best} {res[best]['logistic:accuracy']['mean']:.3f}"
    )
    console.print(f"Report: {args.out / 'report.html'}")
    return 0


def cmd_evaluate(args: argparse.Namespace, console: Console) -> int:
    if args.what == "table":
        return _evaluate_table(args, console)
    from parallel.vision.evaluate import evaluate

    if any(r <= 0 or r > 100 for r in args.ratios):
        raise UserInputError(f"--ratios {args.ratios}: each must be in (0, 100]")
    with _progress(console, "training classifiers") as bar:
        task = bar.add_task("utility arms", total=None)
        m = evaluate(
            args.real, args.synthetic, args.out, args.train, args.seed, curve=args.curve,
            ratios=args.ratios, seeds=args.seeds, classifier_steps=args.classifier_steps,
            progress=lambda k, n: bar.update(task, completed=k, total=n),
        )  # fmt: skip
    s = m["synthetic"]
    console.print(
        f"synthetic: Fréchet {s['frechet']:.2f}, precision {s['precision']:.3f}, recall "
        f"{s['recall']:.3f}; TSTR accuracy on held-out real "
        + ", ".join(f"{k} {v:.3f}" for k, v in m["tstr"].items())
    )
    if "noisy_copies_baseline" in m:
        b = m["noisy_copies_baseline"]
        console.print(
            f"baseline (noisy copies of the small real set): Fréchet {b['frechet']:.2f}, "
            f"precision {b['precision']:.3f}, recall {b['recall']:.3f}"
        )
    for arm, v in m.get("utility", {}).items():
        console.print(
            f"  {arm:<22} accuracy: small CNN {v['cnn:accuracy']['mean']:.3f}, "
            f"logistic {v['logistic:accuracy']['mean']:.3f}"
        )
    for r in m.get("augmentation_curve", []):
        console.print(
            f"{r['real_per_class']} real per class: accuracy {r['real_only']:.3f} real only, "
            f"{r['real_plus_synthetic']:.3f} with the synthetic images"
        )
    console.print(f"Report: {args.out / 'report.html'}")
    return 0


def cmd_verify(args: argparse.Namespace, console: Console) -> int:
    from parallel.data.shards import verify

    problems = verify(args.dataset)
    if problems:
        for p in problems:
            err_console.print(f"[red]bad:[/red] {escape(str(args.dataset / p))}", highlight=False)
        return 1
    console.print(f"[green]ok[/green] {args.dataset}: every shard matches the manifest")
    return 0
