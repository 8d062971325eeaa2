"""Strict typed config models and the one way to validate them.

Every config model derives from :class:`Strict` (``extra="forbid"``, frozen, field
docstrings as documentation). :func:`validate` turns pydantic's errors into one
paragraph that names the file, the line, the field path and what is allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from parallel.config.yamlsrc import PathKey, line_of, load_yaml
from parallel.core.errors import ScenarioError


class Strict(BaseModel):
    """Base of every scenario model: unknown keys are errors; docstrings document fields."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)


def _describe(err: Any) -> str:
    msg = str(err["msg"])
    if err["type"] == "extra_forbidden":
        return "unknown key; " + msg.lower() + " (see scenarios/README.md for the allowed keys)"
    if err["type"] == "missing":
        return "required field is missing"
    if err["type"] == "union_tag_invalid":
        ctx = err.get("ctx", {})
        return (
            f"unknown world {ctx.get('tag')!r}; valid worlds are: "
            f"{str(ctx.get('expected_tags', '')).replace(chr(39), '')}"
        )
    if err["type"] == "value_error":
        msg = msg.removeprefix("Value error, ")
    inp = err.get("input")
    if inp is not None and not isinstance(inp, dict | list) and err["type"] != "value_error":
        got = repr(inp)
        msg += f" (got {got[:80] + '...' if len(got) > 80 else got})"  # never echo a huge value
    return msg


def _allowed_keys(loc: PathKey, root: type[BaseModel]) -> list[str] | None:
    """Field names allowed at the parent of ``loc`` (for unknown-key errors)."""
    model: Any = root
    for item in loc[:-1]:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        if isinstance(item, str) and item in model.model_fields:
            ann = model.model_fields[item].annotation
            args = [a for a in getattr(ann, "__args__", ()) if isinstance(a, type)]
            model = ann if isinstance(ann, type) else (args[0] if len(args) == 1 else args)
        elif isinstance(model, list):
            model = next((m for m in model if item in getattr(m, "model_fields", {})), None)
        else:
            # a union tag such as 'reference'
            continue
        if isinstance(model, list):
            # discriminated union: the next loc item is the tag
            continue
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [k for k in model.model_fields if k != "source_dir"]
    return None


def read_with_overrides(
    p: Path, overrides: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[PathKey, int]]:
    """Read a scenario file and apply dotted overrides (``{"loop.rounds": 2}``).

    Raises:
        ScenarioError: malformed YAML, or an override through a key that is not a mapping.
    """
    data, lines = load_yaml(p)
    for dotted, value in (overrides or {}).items():
        cur = data
        parts = dotted.split(".")
        for part in parts[:-1]:
            nxt = cur.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise ScenarioError(f"cannot override {dotted}: {part} is not a mapping", file=p)
            cur = nxt
        cur[parts[-1]] = value
    data = dict(data)
    if "source_dir" in data:
        raise ScenarioError("unknown key 'source_dir'", file=p, line=lines.get(("source_dir",)))
    data["source_dir"] = str(p.parent)
    return data, lines


M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], data: dict[str, Any], lines: dict[PathKey, int], p: Path) -> M:
    """Validate ``data`` against ``model``; errors name the file, line and field.

    Raises:
        ScenarioError: what is wrong, with what is allowed.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errs = exc.errors()
        parts = []
        first_line: int | None = None
        first_field = None
        for err in errs[:5]:
            loc = tuple(err["loc"])
            if err["type"] == "union_tag_invalid":
                loc = (*loc, str(err.get("ctx", {}).get("discriminator", "world")).strip("'"))
            line, found = line_of(lines, loc)
            field = ".".join(str(x) for x in loc if x in (found or ()) or x == loc[-1])
            field = ".".join(str(x) for x in found) if found == loc else field
            desc = _describe(err)
            if err["type"] == "extra_forbidden":
                allowed = _allowed_keys(loc, model)
                if allowed:
                    desc = f"unknown key {loc[-1]!r}; allowed keys here are: {', '.join(allowed)}"
            if first_line is None:
                first_line, first_field = line, field
            parts.append(
                f"line {line}: field '{field}': {desc}" if line else f"field '{field}': {desc}"
            )
        more = f" (and {len(errs) - 5} more)" if len(errs) > 5 else ""
        if len(parts) == 1:
            raise ScenarioError(
                parts[0].split(": ", 2)[-1], file=p, line=first_line, field=first_field
            ) from None
        raise ScenarioError("invalid scenario: " + "; ".join(parts) + more, file=p) from None
