"""The HTML report: one self-contained file, plots inline as base64 PNG."""

from __future__ import annotations

from typing import Any

import jinja2

from parallel.observation import KPI_DOC

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("parallel.report", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
)


def _fmt(v: Any, nd: int = 2) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def _pct(v: Any) -> str:
    return "n/a" if v is None else f"{100 * v:+.1f}%"


_ENV.filters["f"] = _fmt
_ENV.filters["pct"] = _pct


def render_html(ctx: dict[str, Any], figures: dict[str, str]) -> str:
    return _ENV.get_template("report.html.j2").render(**ctx, figures=figures, kpi_doc=KPI_DOC)
