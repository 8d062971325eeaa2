"""YAML loading that remembers where every value came from.

Pydantic reports errors by field path (``("actual", "truth", "demand", "W")``); users
need a line number. We compose the YAML node tree once (``yaml.SafeLoader``, so no
arbitrary objects), build the plain data with ``yaml.safe_load`` semantics, and keep a
map from field paths to 1-based line numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from parallel.core.errors import ScenarioError

PathKey = tuple[str | int, ...]


def _index(node: yaml.Node, path: PathKey, lines: dict[PathKey, int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            # the key's own line is the most useful place to point at
            _index(value_node, (*path, key), lines)
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*path, i), lines)


def load_yaml(path: str | Path) -> tuple[dict[str, Any], dict[PathKey, int]]:
    """Read a YAML mapping and its line map.

    Raises:
        ScenarioError: the file is missing, empty, malformed, or not a mapping.
    """
    p = Path(path)
    if not p.exists():
        raise ScenarioError("file not found; give the path of a scenario YAML file", file=p)
    if p.is_dir():
        raise ScenarioError("is a folder; give the path of a scenario YAML file", file=p)
    text = p.read_text(encoding="utf-8")
    if not text.strip():
        raise ScenarioError(
            "the file is empty; a scenario is a YAML mapping with at least 'name' and "
            "'actual' (see scenarios/README.md)",
            file=p,
            line=1,
        )
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or str(exc)
        raise ScenarioError(
            f"malformed YAML: {problem}; check indentation, colons and quotes", file=p, line=line
        ) from None
    except yaml.YAMLError as exc:  # pragma: no cover - unmarked YAML errors are rare
        raise ScenarioError(f"malformed YAML: {exc}", file=p) from None
    if data is None or node is None:
        raise ScenarioError("the file holds no YAML document", file=p, line=1)
    if not isinstance(data, dict):
        raise ScenarioError(
            f"a scenario must be a YAML mapping (key: value), got a {type(data).__name__}",
            file=p,
            line=1,
        )
    lines: dict[PathKey, int] = {}
    _index(node, (), lines)
    return data, lines


def line_of(lines: dict[PathKey, int], loc: PathKey) -> tuple[int | None, PathKey]:
    """The line of the deepest part of ``loc`` present in the file, and that part.

    Pydantic locations can hold items that are not in the YAML (a union's tag, say);
    those are skipped.
    """
    found: PathKey = ()
    cur: PathKey = ()
    for item in loc:
        cand = (*cur, item)
        if cand in lines:
            cur = cand
            found = cur
    return lines.get(found, lines.get(())), found
