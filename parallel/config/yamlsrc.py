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
    """Record each field path's line; a key given twice in one mapping is an error (YAML
    would silently keep the last one)."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            if key in seen:
                raise ScenarioError(
                    f"key {key!r} appears twice in the same mapping (first on line "
                    f"{seen[key]}); keep one",
                    line=key_node.start_mark.line + 1,
                    field=".".join(map(str, (*path, key))),
                )
            seen[key] = key_node.start_mark.line + 1
            # the key's own line is the most useful place to point at
            _index(value_node, (*path, key), lines)
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*path, i), lines)


#: deepest nesting and most YAML events a scenario file may have (real ones: < 10, < 2,000)
MAX_DEPTH = 50
MAX_EVENTS = 200_000


def _text(p: Path) -> str:
    """The file as UTF-8 text.

    Raises:
        ScenarioError: the file is not UTF-8 text (naming the first bad byte's line).
    """
    raw = p.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ScenarioError(
            f"not UTF-8 text (byte {exc.start}); save the scenario as UTF-8", file=p, line=line
        ) from None


def _check_events(text: str, p: Path) -> None:
    """Refuse aliases, too-deep nesting and too many nodes, reading parser events only.

    Aliases are refused outright: a scenario never needs one, and a few nested aliases
    expand into gigabytes (the "billion laughs").

    Raises:
        ScenarioError: naming the line.
    """
    depth = 0
    for n, ev in enumerate(yaml.parse(text, Loader=yaml.SafeLoader)):
        line = ev.start_mark.line + 1 if ev.start_mark is not None else None
        if isinstance(ev, yaml.AliasEvent):
            raise ScenarioError(
                f"YAML alias '*{ev.anchor}' is not allowed in a scenario file; write the "
                "value out where it is used",
                file=p,
                line=line,
            )
        if isinstance(ev, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise ScenarioError(
                    f"nested deeper than {MAX_DEPTH} levels; a scenario is a few levels deep",
                    file=p,
                    line=line,
                )
        elif isinstance(ev, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1
        if n > MAX_EVENTS:
            raise ScenarioError(
                f"more than {MAX_EVENTS} YAML nodes; too big for a scenario", file=p
            )


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
    text = _text(p)
    if not text.strip():
        raise ScenarioError(
            "the file is empty; a scenario is a YAML mapping with at least 'name' and "
            "'actual' (see scenarios/README.md)",
            file=p,
            line=1,
        )
    try:
        _check_events(text, p)  # before anything is built: no alias can expand
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
    try:
        _index(node, (), lines)
    except ScenarioError as exc:  # add the file to what the walk found
        raise ScenarioError(exc.detail, file=p, line=exc.line, field=exc.field) from None
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
