"""Number formatting shared by the HTML and Markdown reports."""

from __future__ import annotations

from typing import Any


def num(v: Any, nd: int = 2) -> str:
    """A float with ``nd`` decimals; ``n/a`` for None; anything else as text."""
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def pct(v: Any) -> str:
    """A signed percentage from a fraction; ``n/a`` for None."""
    return "n/a" if v is None else f"{100 * v:+.1f}%"
