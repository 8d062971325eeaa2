"""The command line: ``parallel validate | run | record | train | generate | report``.

Exit status: 0 success, 2 bad input (one paragraph, no traceback), 1 failure while running.
The CLI owns the terminal: progress bars while a run is under way, one screen of summary
at the end. Library code only logs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from parallel import __version__
from parallel.core.errors import ParallelError, UserInputError
from parallel.core.executors import EXECUTORS

err_console = Console(stderr=True)


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
        "parallel run scenarios/intersection.yaml --executor dask --rounds 2",
    )
    r.add_argument("scenario", type=Path, help="a scenario .yaml (traffic, city or GAN)")
    r.add_argument("--out", type=Path, help="parent folder of the run folder (default: report.dir)")
    r.add_argument("--executor", choices=EXECUTORS.names(), help="where replications run")
    r.add_argument("--workers", type=_count(1), help="worker processes (default: all cores)")
    r.add_argument("--seed", type=_count(0), help="override the scenario's seed")
    r.add_argument("--rounds", type=_count(1), help="override loop.rounds")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    r.add_argument("--device", default="auto", help="GAN scenarios: auto, cpu, cuda or mps")

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
        "parallel train IMAGES_DIR --out imggen",
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
        "--curve",
        type=_count(1),
        nargs="+",
        metavar="K",
        help="augmentation curve: real images per class to train on, e.g. 5 10 20 (needs --train)",
    )
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


#: command-line option -> the scenario key it overrides
TRAFFIC_OVERRIDES = {
    "seed": "seed",
    "rounds": "loop.rounds",
    "executor": "executor.kind",
    "workers": "executor.workers",
}
GAN_OVERRIDES = {"seed": "seed", "rounds": "loop.rounds", "steps": "gan.train.steps"}


def _overrides(
    args: argparse.Namespace, keys: dict[str, str] = TRAFFIC_OVERRIDES
) -> dict[str, Any]:
    return {
        key: getattr(args, opt) for opt, key in keys.items() if getattr(args, opt, None) is not None
    }


def cmd_validate(args: argparse.Namespace, console: Console) -> int:
    from parallel.gan.scenario import is_gan_scenario, load_gan, train_config
    from parallel.scenarios import kind_of
    from parallel.traffic.scenario import design_plans, load

    if kind_of(args.scenario) == "city":
        from parallel.traffic.actual.sumo_net import read_sumocfg
        from parallel.traffic.city import load_city
        from parallel.traffic.network import read_net

        c = load_city(args.scenario)
        scfg = read_sumocfg(c.sumocfg)
        net = read_net(scfg.net_file)
        detail = (
            f"fidelity design {c.fidelity.plans} plans x {c.fidelity.reps} replications; the "
            f"loop compares {', '.join(p.policy for p in c.loop.policies)} over "
            f"{c.loop.rounds} rounds"
        )
        if c.replay_dir is not None:  # read and check the recording as `run` would
            from parallel.traffic.actual.recorded import RecordedCity

            rec = RecordedCity(
                c.replay_dir, net, scfg.end_s - scfg.begin_s, c.observation.interval_s
            )
            detail = (
                f"replays the recording {c.sumo.replay} ({len(rec.tables['vehicles'])} "
                f"vehicles, no SUMO needed) once and recommends one of "
                f"{', '.join(p.policy for p in c.loop.policies)}"
            )
        console.print(
            f"[green]ok[/green] {args.scenario}: city scenario '{c.name}' on {scfg.net_file.name}: "
            f"{len(net.edges)} edges, {len(net.movements)} movements, {len(net.programs)} "
            f"traffic lights; hour {scfg.begin_s:.0f}-{scfg.end_s:.0f} s; {detail}"
        )
        return 0
    if is_gan_scenario(args.scenario):
        g = load_gan(args.scenario)
        cfg = train_config(g)
        what = g.gan.data.toy or g.gan.data.file
        console.print(
            f"[green]ok[/green] {args.scenario}: GAN scenario '{g.name}' on {what}, "
            f"{cfg.steps} steps of {cfg.loss} ({cfg.net} nets, pac {cfg.pac}) over "
            f"{g.loop.rounds} rounds"
        )
        return 0
    sc = load(args.scenario)
    if sc.actual.world == "replay":  # read and check the logs as `run` would
        from parallel.traffic.actual import make_actual

        make_actual(sc)
    console.print(
        f"[green]ok[/green] {args.scenario}: scenario '{sc.name}', actual world "
        f"'{sc.actual.world}', {sc.network.intersections} intersection(s), "
        f"{len(design_plans(sc))} design cells x {sc.experiments.replications} replications, "
        f"{sc.loop.rounds} rounds"
    )
    return 0


def _summary_screen(console: Console, folder: Any, summary: dict[str, Any]) -> None:
    t = Table(title=f"{summary['scenario']}: rounds", show_lines=False)
    after = any(r.get("headline_after_adapt") for r in summary["rounds"])
    cols = ["round", "plan", "actual delay s", "predicted s", "discrepancy", "after adapt"]
    cols += ["GEH<5", "C2ST AUC"] + (["fitted s", "C2ST after"] if after else []) + ["chosen"]
    for col in cols:
        t.add_column(col, justify="right")
    for r in summary["rounds"]:
        hl, ha = r["headline"], r.get("headline_after_adapt") or {}
        fit = (r.get("kpis_after_adapt") or {}).get("mean_delay_s", float("nan"))
        extra = [f"{fit:.1f}", f"{ha.get('c2st_auc:vehicles', float('nan')):.2f}"]
        t.add_row(
            str(r["round"]),
            r["control"]["label"],
            f"{r['actual_kpis']['mean_delay_s']:.1f}",
            f"{r['predicted_kpis']['mean_delay_s']:.1f}",
            f"{r['discrepancy']['before']:.3f}",
            "-" if r["discrepancy"]["after"] is None else f"{r['discrepancy']['after']:.3f}",
            f"{hl.get('geh_share:counts', float('nan')):.2f}",
            f"{hl.get('c2st_auc:vehicles', float('nan')):.2f}",
            *(extra if after else []),
            r["chosen"]["label"],
        )
    console.print(t)
    fin = summary["final"]
    if fin.get("applied"):
        a, p = fin["actual_kpis"], fin["predicted_kpis"]
        console.print(
            f"Applied [bold]{fin['control']['label']}[/bold]: mean delay measured "
            f"{a['mean_delay_s']:.1f} s, predicted {p['mean_delay_s']:.1f} s "
            f"({100 * fin['prediction_error']['mean_delay_s']:+.1f}%); "
            f"{100 * fin['change_vs_round1']['mean_delay_s']:+.1f}% vs round 1."
        )
    else:
        pred = fin["predicted_kpis"]
        console.print(
            f"Recommended plan [bold]{fin['control']['label']}[/bold]: predicted mean delay "
            f"{pred['mean_delay_s']:.1f} s ({fin.get('note', '')})."
        )
    errs = summary["calibration"].get("relative_error") or {}
    if errs:
        worst = {k: v for k, v in errs.items() if k.startswith("demand.") and v is not None}
        if worst:
            k = max(worst, key=lambda x: abs(worst[x]))
            console.print(f"Calibration: worst demand error {k} {100 * worst[k]:+.1f}%.")
    console.print(f"Report: [bold]{folder.root / 'report.html'}[/bold]")


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    from parallel.gan.scenario import is_gan_scenario
    from parallel.traffic.run import run_scenario
    from parallel.traffic.scenario import load

    if is_gan_scenario(args.scenario):
        return _run_gan(args, console)
    from parallel.scenarios import kind_of

    city = kind_of(args.scenario) == "city"
    if city:
        from parallel.traffic.city import load_city
        from parallel.traffic.run import run_city

        sc: Any = load_city(args.scenario, _overrides(args))
    else:
        sc = load(args.scenario, _overrides(args))
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise UserInputError(f"--out {args.out}: exists and is not a folder")
    quiet = args.quiet or not console.is_terminal
    progress = Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
    )
    tasks: dict[str, TaskID] = {}
    rounds = sc.loop.rounds

    def on_event(verb: str, r: int, info: dict[str, Any]) -> None:
        if "rounds" not in tasks:
            tasks["rounds"] = progress.add_task("rounds", total=rounds)
        if verb == "round_done":
            progress.update(tasks["rounds"], completed=r + 1)
            if quiet:
                console.print(
                    f"round {r + 1}/{rounds}: plan {info['control']['label']} -> "
                    f"chosen {info['chosen']['label']}"
                )
        else:
            progress.update(tasks["rounds"], description=f"round {min(r + 1, rounds)}: {verb}")

    def on_progress(what: str, k: int, n: int) -> None:
        if what not in tasks:
            tasks[what] = progress.add_task(what, total=n)
        progress.update(tasks[what], completed=k, total=n)

    runner = run_city if city else run_scenario
    with progress:
        folder, summary = runner(
            sc, args.out, sc.executor.kind, sc.executor.workers, on_event, on_progress, sys.argv
        )
    _summary_screen(console, folder, summary)
    return 0


def _run_gan(args: argparse.Namespace, console: Console) -> int:
    from parallel.gan.runner import run_gan
    from parallel.gan.scenario import load_gan

    sc = load_gan(args.scenario, _overrides(args, GAN_OVERRIDES))
    quiet = args.quiet or not console.is_terminal
    with _progress(console, "training") as bar:
        bar.disable = quiet
        task = bar.add_task("steps", total=None)

        def on_event(verb: str, r: int, info: dict[str, Any]) -> None:
            if verb == "round_done" and quiet:
                extra = (
                    f", quality {info['quality']['quality']:.3f}"
                    if "quality" in info
                    else f", {info['modes']['modes']} modes, {100 * info['modes']['hq']:.1f}% HQ"
                )
                console.print(
                    f"round {r + 1}/{sc.loop.rounds}: step {info['step']}, "
                    f"C2ST AUC {info['c2st_auc']:.3f}{extra}"
                )

        folder, summary = run_gan(
            sc,
            args.out,
            args.device,
            on_event,
            lambda what, k, n: bar.update(task, completed=k, total=n),
            sys.argv,
        )
    q, m = summary["quality"], summary["modes"]
    auc = summary["c2st_auc"]
    line = f"C2ST AUC {auc['first']:.3f} -> {auc['final']:.3f} (0.5 best)"
    if q["final"]:
        line += f"; quality {q['first']['quality']:.3f} -> {q['final']['quality']:.3f} (1 best)"
    if m["final"]:
        line += (
            f"; modes {m['final']['modes']}/{m['final']['n_modes']}, "
            f"{100 * m['final']['hq']:.1f}% high quality"
        )
    if summary.get("modes_plain"):
        mp = summary["modes_plain"]
        line += (
            f" (Jacobian truncation keeping {100 * summary['sampling_keep']:.0f}% of draws; "
            f"plain sampling {mp['modes']}/{mp['n_modes']}, {100 * mp['hq']:.1f}%)"
        )
    console.print(
        f"{summary['scenario']}: {summary['steps']} steps on {summary['device']}; {line}."
    )
    for note in summary["notes"]:
        console.print(f"note: {note}")
    console.print(f"Report: [bold]{folder.root / 'report.html'}[/bold]")
    return 0


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


def cmd_record(args: argparse.Namespace, console: Console) -> int:
    from parallel.scenarios import kind_of
    from parallel.traffic.record import record
    from parallel.traffic.scenario import load

    if kind_of(args.scenario) == "city":
        from parallel.traffic.actual.recorded import record_city
        from parallel.traffic.city import load_city

        c = load_city(args.scenario, _overrides(args))
        with console.status(f"observing SUMO on {c.sumo.config} ..."):
            p = record_city(c, args.out, sys.argv)
        rows = p["rows"]
        console.print(
            f"wrote {rows['vehicles']} vehicle records, {rows['detectors']} detector intervals "
            f"and {rows['probes']} probe routes to {args.out} (SUMO, seed {p['seed']})"
        )
        return 0
    sc = load(args.scenario, _overrides(args))
    with console.status(
        f"observing the {sc.actual.world} world for {sc.demand.duration_s:g} s ..."
    ):
        prov = record(sc, args.out, sys.argv)
    console.print(
        f"wrote {prov['rows']['vehicles']} vehicle records and {prov['rows']['detectors']} "
        f"detector intervals to {args.out} ({prov['world']}, seed {prov['seed']})"
    )
    return 0


def _progress(console: Console, label: str) -> Progress:
    return Progress(
        TextColumn(label),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )


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

    if args.data.suffix.lower() in (".yaml", ".yml"):
        return _train_scenario(args, console)
    if args.data.is_dir():
        return _train_images(args, console)
    df = read_table(args.data)
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

    with console.status("training the feature network and the TSTR classifiers ..."):
        m = evaluate(args.real, args.synthetic, args.out, args.train, args.seed, curve=args.curve)
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
    for r in m.get("augmentation_curve", []):
        console.print(
            f"{r['real_per_class']} real per class: accuracy {r['real_only']:.3f} real only, "
            f"{r['real_plus_synthetic']:.3f} with the synthetic images"
        )
    console.print(f"Report: {args.out / 'report.html'}")
    return 0


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    import json as _json

    from parallel.core.runfolder import RunFolder
    from parallel.report import render

    if not args.run_dir.is_dir():
        raise UserInputError(
            f"{args.run_dir}: no such run folder; give a folder written by `parallel run`"
        )
    run_json = args.run_dir / "run.json"
    if run_json.is_file() and _json.loads(run_json.read_text()).get("kind") == "gan":
        from parallel.report.gan import render_gan

        html, md = render_gan(RunFolder(args.run_dir))
    else:
        html, md = render(RunFolder(args.run_dir))
    console.print(f"wrote {html} and {md}")
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


def _fresh_out(out: Path | None, name: str) -> Path:
    """A new (or empty) output folder; a folder with files in it is never written into."""
    import time

    if out is None:
        out = Path("reports") / name / time.strftime("fidelity-%Y%m%d-%H%M%S")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserInputError(
            f"--out {out}: exists and is not an empty folder; give a new folder name"
        )
    out.mkdir(parents=True, exist_ok=True)
    return out


def cmd_fidelity(args: argparse.Namespace, console: Console) -> int:
    import json

    from parallel.core.executors import make_executor
    from parallel.core.runfolder import atomic_write
    from parallel.report.fidelity import render_fidelity
    from parallel.traffic.city import load_city
    from parallel.traffic.fidelity import run_fidelity

    overrides = {
        k: v
        for k, v in (("executor.kind", args.executor), ("executor.workers", args.workers))
        if v is not None
    }
    sc = load_city(args.scenario, overrides)
    if sc.sumo.replay is not None:
        raise UserInputError(
            f"{args.scenario}: fidelity runs every plan of its design in SUMO, and this "
            f"scenario replays a recording (sumo.replay: {sc.sumo.replay}); use a scenario "
            "without sumo.replay on the same network (scenarios/grid3.yaml for the quickstart)"
        )
    for opt in ("plans", "reps"):
        v = getattr(args, opt)
        if v is not None and not (2 if opt == "plans" else 1) <= v <= (
            13 if opt == "plans" else 50
        ):
            raise UserInputError(f"--{opt} {v}: out of range (plans 2-13, reps 1-50)")
    out = _fresh_out(args.out, sc.name)
    tasks: dict[str, TaskID] = {}
    progress = _progress(console, "fidelity")

    def on_progress(what: str, k: int, n: int) -> None:
        if what not in tasks:
            tasks[what] = progress.add_task(what, total=n)
        progress.update(tasks[what], completed=k, total=n, description=what)

    executor = make_executor(sc.executor.kind, sc.executor.workers, sc.executor.address)
    try:
        with progress:
            result, counts = run_fidelity(sc, out, executor, args.plans, args.reps, on_progress)
    finally:
        executor.close()
    atomic_write(out / "fidelity.json", json.dumps(result, indent=1) + "\n")
    atomic_write(out / "report.html", render_fidelity(result, counts))
    t = Table(title=f"{sc.name}: fidelity over {len(result['plans'])} plans")
    for col in (
        "world",
        "Kendall tau",
        "MARE delay",
        "MARE travel time",
        "C2ST AUC",
        "GEH<5",
        "s per sim h",
    ):
        t.add_column(col)
    for w in result["kendall_tau"]:
        t.add_row(
            w,
            f"{result['kendall_tau'][w]['tau']:.3f}",
            f"{100 * result['mean_abs_rel_error'][w]['mean_delay_s']:.1f}%",
            f"{100 * result['mean_abs_rel_error'][w]['mean_travel_time_s']:.1f}%",
            f"{result['c2st_auc'][w]['auc']:.3f}",
            f"{result['geh_share'][w]:.3f}",
            f"{result['wall_s_per_sim_hour'][w]:.3f}",
        )
    t.add_row("sumo", "", "", "", "", "", f"{result['wall_s_per_sim_hour']['sumo']:.3f}")
    console.print(t)
    console.print(f"report: {out / 'report.html'}")
    return 0


#: commands whose --out is their own folder, and the files that mark an earlier one of theirs
OUT_SIGNATURES: dict[str, tuple[str, ...]] = {
    "record": ("provenance.json",),
    "train": ("checkpoint.pt",),
    "generate": ("manifest.json",),
    "evaluate": (),
}


@contextmanager
def _claimed(out: Path, command: str) -> Iterator[None]:
    """The output-folder rule and lock (:mod:`parallel.core.outdir`) around a command; a
    folder the command made and left with nothing but its own mark is removed again (bad
    input found after the claim leaves no trace)."""
    import shutil

    from parallel.core.outdir import OURS, claim

    made = not out.exists()
    try:
        with claim(out, command, OUT_SIGNATURES[command]):
            yield
    finally:
        if made and out.is_dir() and all(p.name in OURS for p in out.iterdir()):
            shutil.rmtree(out)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so it unwinds as an interrupt does: run.json
    says ``interrupted``, pool workers are stopped, and the exit status is 143."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    import signal

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:  # not inside someone else's handler
        signal.signal(signal.SIGTERM, _on_sigterm)
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # a pipe or a CI log gets a wide console, so the summary table is not cut to 80 columns
    console = Console() if sys.stdout.isatty() else Console(width=130)
    commands = {
        "validate": cmd_validate,
        "run": cmd_run,
        "record": cmd_record,
        "train": cmd_train,
        "generate": cmd_generate,
        "evaluate": cmd_evaluate,
        "report": cmd_report,
        "fidelity": cmd_fidelity,
        "verify": cmd_verify,
    }
    try:
        if args.command not in OUT_SIGNATURES:
            return commands[args.command](args, console)
        if args.command == "train":
            _default_train_out(args)
        with _claimed(args.out, args.command):
            return commands[args.command](args, console)
    except UserInputError as exc:
        if args.debug:
            raise
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return 2
    except (ParallelError, Exception) as exc:  # a failure while running
        if args.debug:
            raise
        err_console.print(
            f"[red]failed:[/red] {type(exc).__name__}: {escape(str(exc))} (rerun with --debug "
            "for the traceback)",
            highlight=False,
            soft_wrap=True,
        )
        return 1
    except KeyboardInterrupt as exc:
        what = "terminated" if isinstance(exc, Terminated) else "interrupted"
        err_console.print(f"{what}; files already written are complete (atomic writes)")
        return 143 if isinstance(exc, Terminated) else 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
