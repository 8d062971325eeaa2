"""The Markdown report: the same facts as the HTML one, for terminals and diffs."""

from __future__ import annotations

from typing import Any

from parallel.report.fmt import num as _f
from parallel.report.fmt import pct as _pct
from parallel.traffic.observation import KPI_DOC


def render_markdown(ctx: dict[str, Any]) -> str:
    """The report as Markdown: header, answer, rounds, calibration, judge, behaviours,
    experiments (each section a function below)."""
    s, h = ctx["summary"], ctx["history"]
    out = _header(ctx) + _answer(s["final"]) + _rounds(h["rounds"]) + _calibration(s)
    last = h["rounds"][-1]
    out += _judge(last) + _behaviours(h["rounds"]) + _experiments(last) + _trust(h["rounds"])
    out += ["", "KPIs: " + "; ".join(f"{k}: {v}" for k, v in KPI_DOC.items()), ""]
    return "\n".join(out)


def _header(ctx: dict[str, Any]) -> list[str]:
    s, h, run = ctx["summary"], ctx["history"], ctx["run"]
    out = [f"# Parallel run: {s['scenario']}", ""]
    desc = ctx["scenario"].get("description")
    if desc:
        out += [desc.strip(), ""]
    return out + [
        f"- actual world: **{s['actual_world']}**; seed {s['seed']}; executor {s['executor']} "
        f"({run.get('workers')} workers); git {run.get('git_revision')}",
        f"- total time {h['timings'].get('total_s', 0):.1f} s; time per round: "
        + ", ".join(f"{t:.1f} s" for t in h["timings"].get("round_s", [])),
        "",
    ]


def _answer(fin: dict[str, Any]) -> list[str]:
    out = ["## Answer", ""]
    if not fin.get("applied"):
        return out + [
            f"Recommended plan **{fin['control'].get('label', fin['control'])}**: {fin.get('note')}."
        ]
    out += [
        f"Chosen plan **{fin['control']['label']}** was applied to the actual world.",
        "",
        "| KPI | predicted | measured | prediction error | change vs round 1 |",
        "|---|---|---|---|---|",
    ]
    for k in KPI_DOC:
        out.append(
            f"| {k} | {_f(fin['predicted_kpis'][k])} | {_f(fin['actual_kpis'][k])} | "
            f"{_pct(fin['prediction_error'][k])} | {_pct(fin['change_vs_round1'][k])} |"
        )
    return out


def _rounds(rounds: list[dict[str, Any]]) -> list[str]:
    out = [
        "",
        "## Rounds",
        "",
        "| round | plan | actual delay s | predicted delay s | discrepancy before | after | "
        "GEH<5 share | C2ST AUC | fitted delay s | GEH<5 after | C2ST after | chosen next |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rounds:
        hl, ha = r["headline"], r.get("headline_after") or {}
        fit = (r.get("artificial_kpis_after") or {}).get("mean_delay_s")
        out.append(
            f"| {r['round']} | {r['control']['label']} | {_f(r['actual_kpis']['mean_delay_s'])} | "
            f"{_f(r['predicted_kpis']['mean_delay_s'])} | {_f(r['discrepancy']['before'], 3)} | "
            f"{_f(r.get('discrepancy_after'), 3)} | {_f(hl.get('geh_share:counts'))} | "
            f"{_f(hl.get('c2st_auc:vehicles'))} | {_f(fit)} | {_f(r.get('geh_share_after'))} | "
            f"{_f(ha.get('c2st_auc:vehicles'))} | {r['chosen']['label']} |"
        )
    return out


def _calibration(s: dict[str, Any]) -> list[str]:
    cal = s["calibration"]
    if not cal["fitted"]:
        return []
    out = [
        "",
        "## What the artificial world learned",
        "",
        "| parameter | fitted | truth | relative error |",
        "|---|---|---|---|",
    ]
    truth = cal.get("truth") or {}
    err = cal.get("relative_error") or {}
    for k, v in cal["fitted"].items():
        out.append(f"| {k} | {_f(v)} | {_f(truth.get(k))} | {_pct(err.get(k))} |")
    if cal.get("note"):
        out += ["", f"Note: {cal['note']}."]
    return out


def _judge(last: dict[str, Any]) -> list[str]:
    out = [
        "",
        f"## Judge (round {last['round']})",
        "",
        "Scale and direction are given per score.",
        "",
        "| metric | subject | value | scale | better | p-value |",
        "|---|---|---|---|---|---|",
    ]
    for sc in last["verdict"]:
        out.append(
            f"| {sc['metric']} | {sc['subject']} | {_f(sc['value'], 4)} | {sc['scale']} | "
            f"{sc['better']} | {_f(sc['p_value'], 3)} |"
        )
    return out


def _behaviours(rounds: list[dict[str, Any]]) -> list[str]:
    beh_rounds = [r for r in rounds if r.get("behaviours")]
    if not beh_rounds:
        return []
    out = [
        "",
        "## Learned against parametric behaviour (held-out observations, mean over origins)",
        "",
        "| round | held out | behaviour | learned KS compl. | parametric KS compl. | "
        "learned W1 | parametric W1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in beh_rounds:
        for kind, per in r["behaviours"].items():
            if kind == "held_out" or "mean" not in per:
                continue
            m = per["mean"]
            out.append(
                f"| {r['round']} | {r['behaviours']['held_out']} | {kind} | "
                f"{_f(m['learned_ks'], 3)} | {_f(m['parametric_ks'], 3)} | "
                f"{_f(m['learned_w1'], 3)} | {_f(m['parametric_w1'], 3)} |"
            )
    return out


def _experiments(last: dict[str, Any]) -> list[str]:
    ex = last["experiments"]
    out = [
        "",
        f"## Experiments (round {last['round']}): {ex['design']}, {ex['cells']} cells x "
        f"{ex['replications']} replications, objective {ex['objective']}",
        "",
        "| rank | plan | mean | 95% CI | paired diff vs incumbent (95% CI) |",
        "|---|---|---|---|---|",
    ]
    obj = ex["objective"]
    for row in ex["table"][:12]:
        out.append(
            f"| {row['rank']} | {row['plan']}{' (incumbent)' if row['incumbent'] else ''} | "
            f"{_f(row[obj])} | [{_f(row[obj + '_lo'])}, {_f(row[obj + '_hi'])}] | "
            f"{_f(row['diff_vs_incumbent'])} [{_f(row['diff_lo'])}, {_f(row['diff_hi'])}] |"
        )
    return out


def _how(trust: dict[str, Any]) -> str:
    """How the applied control came about, when not by the twin's choice of a new one."""
    if trust.get("reverted_to"):
        return " (reverted: measured best so far)"
    return " (kept)" if trust["kept_in_force"] else ""


def _trust(rounds: list[dict[str, Any]]) -> list[str]:
    """How far the act verb trusted the twin each round (city runs)."""
    rows = [r for r in rounds if r.get("trust")]
    if not rows:
        return []
    out = [
        "",
        "## Safe exploration",
        "",
        "A control is applied only if its upper 95% bound of predicted mean delay, times "
        "(1 + trust margin), stays within the tolerance of the mean delay SUMO measured "
        "under the control in force. The margin is the twin's largest relative error so far. "
        "If the control in force measured worse than the tolerance allows against the best "
        "control measured so far, the loop goes back to that one (reverted).",
        "",
        "| round | trust margin | limit s | safe candidates | best predicted | safe? | applied next |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        t = r["trust"]
        out.append(
            f"| {r['round']} | {_pct(t['trust_margin'])} | {_f(t['limit_mean_delay_s'])} | "
            f"{t['safe_cells']} | {t['best_predicted']} | {'yes' if t['best_predicted_is_safe'] else 'no'} | "
            f"{r['chosen']['label']}{_how(t)} |"
        )
    return out
