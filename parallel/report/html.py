"""The HTML report: one self-contained file, plots inline as base64 PNG."""

from __future__ import annotations

from typing import Any

import jinja2

from parallel.report.fmt import num, pct
from parallel.traffic.observation import KPI_DOC

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("parallel.report", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
)


_ENV.filters["f"] = num
_ENV.filters["pct"] = pct


def render_html(ctx: dict[str, Any], figures: dict[str, str]) -> str:
    return _ENV.get_template("report.html.j2").render(**ctx, figures=figures, kpi_doc=KPI_DOC)
