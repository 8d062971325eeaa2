"""Commands on scenarios: ``validate``, ``run`` (traffic and GAN scenarios), ``record``,
``report`` and ``fidelity``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from parallel.cli.common import GAN_OVERRIDES, _fresh_out, _overrides, _progress
from parallel.core.errors import UserInputError


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
            f"traffic lights ({_program_types(net)}); hour {scfg.begin_s:.0f}-"
            f"{scfg.end_s:.0f} s; {detail}"
        )
        odd = sorted({p.type for p in net.programs.values()} - {"static", "actuated"})
        if odd:
            console.print(
                f"note: programs of type {', '.join(odd)} run in both worlds as fixed-time "
                "copies of their phases (only static and actuated programs are run as the "
                "network defines them)"
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


def _program_types(net: Any) -> str:
    """'8 static', '3 static, 2 actuated': what the network's lights run."""
    from collections import Counter

    kinds = Counter(p.type for p in net.programs.values())
    return ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"


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
    from parallel.scenarios import kind_of
    from parallel.traffic.run import run_scenario
    from parallel.traffic.scenario import load

    city = kind_of(args.scenario) == "city"
    if args.resume is not None and not city:
        raise UserInputError(
            f"--resume {args.resume}: only city scenarios keep a checkpoint per round; "
            f"run {args.scenario} again without --resume"
        )
    if args.resume is not None and args.out is not None:
        raise UserInputError("--resume continues the run in its own folder; drop --out")
    if is_gan_scenario(args.scenario):
        return _run_gan(args, console)
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

    if args.resume is not None and (args.resume / "checkpoint.json").is_file():
        import json

        done = len(json.loads((args.resume / "checkpoint.json").read_text())["rounds"])
        console.print(f"going on with {args.resume} after round {done} of {rounds}")
    with progress:
        if city:
            folder, summary = run_city(
                sc, args.out, sc.executor.kind, sc.executor.workers, on_event, on_progress,
                sys.argv, resume=args.resume,
            )  # fmt: skip
        else:
            folder, summary = run_scenario(
                sc, args.out, sc.executor.kind, sc.executor.workers, on_event, on_progress,
                sys.argv,
            )  # fmt: skip
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


def cmd_fidelity(args: argparse.Namespace, console: Console) -> int:
    from parallel.core.outdir import claim
    from parallel.traffic.city import load_city
    from parallel.traffic.fidelity import STATE

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
    if args.resume:
        if args.out is None or not (args.out / STATE).is_file():
            raise UserInputError(
                f"--resume {args.out or ''}: give the --out folder of the interrupted "
                f"fidelity run (it holds {STATE})".replace("--resume :", "--resume:")
            )
        out = args.out
    elif args.out is not None and (args.out / STATE).is_file():
        raise UserInputError(
            f"--out {args.out}: holds a fidelity run already; add --resume to continue it, "
            "or give a new folder"
        )
    else:
        out = _fresh_out(args.out, sc.name)
    # the folder's mark and lock: a second fidelity into it (a --resume while the first
    # still runs) exits 2 instead of mixing its runs with the first one's
    with claim(out, "fidelity", (STATE,)):
        return _fidelity_in(out, sc, args, console)


def _fidelity_in(out: Path, sc: Any, args: argparse.Namespace, console: Console) -> int:
    """``parallel fidelity`` in its claimed folder: run, write, print."""
    import json

    from parallel.core.executors import make_executor
    from parallel.core.runfolder import atomic_write
    from parallel.report.fidelity import render_fidelity
    from parallel.traffic.fidelity import run_fidelity

    tasks: dict[str, TaskID] = {}
    progress = _progress(console, "fidelity")

    def on_progress(what: str, k: int, n: int) -> None:
        if what not in tasks:
            tasks[what] = progress.add_task(what, total=n)
        progress.update(tasks[what], completed=k, total=n, description=what)

    executor = make_executor(sc.executor.kind, sc.executor.workers, sc.executor.address)
    try:
        with progress:
            result, counts = run_fidelity(
                sc, out, executor, args.plans, args.reps, on_progress, resume=args.resume
            )
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
        "time loss located",
        "s per sim h",
    ):
        t.add_column(col)
    located = result["time_loss_by_edge"]["located_share"]
    for w in result["kendall_tau"]:
        t.add_row(
            w,
            f"{result['kendall_tau'][w]['tau']:.3f}",
            f"{100 * result['mean_abs_rel_error'][w]['mean_delay_s']:.1f}%",
            f"{100 * result['mean_abs_rel_error'][w]['mean_travel_time_s']:.1f}%",
            f"{result['c2st_auc'][w]['auc']:.3f}",
            f"{result['geh_share'][w]:.3f}",
            f"{located[w]:.2f}",
            f"{result['wall_s_per_sim_hour'][w]:.3f}",
        )
    t.add_row("sumo", "", "", "", "", "", "", f"{result['wall_s_per_sim_hour']['sumo']:.3f}")
    console.print(t)
    console.print(_verdict_line(result["verdict"]))
    console.print(f"report: {out / 'report.html'}")
    return 0


def _verdict_line(v: dict[str, Any]) -> str:
    """One line: the targets the twin meets, and how it does against the peer."""
    missed = [k for k, f in v["figures"].items() if not f["meets"]]
    head = (
        "the twin meets every target"
        if not missed
        else f"the twin misses {len(missed)} of {len(v['figures'])} targets ({', '.join(missed)})"
    )
    if v["peer"] is None:
        return f"Verdict: {head}."
    by = {
        k: [n for n, f in v["figures"].items() if f["against_peer"] == k]
        for k in ("better", "tie", "worse")
    }
    parts = ", ".join(f"{k} on {', '.join(n)}" for k, n in by.items() if n)
    return f"Verdict: {head}; against {v['peer']}: {parts}."
