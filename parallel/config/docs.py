"""Render a config model's field reference from the models' own docstrings.

:func:`field_table` gives one Markdown table per model; ``python -m parallel.scenarios``
prints the tables that ``scenarios/README.md`` embeds, and a test checks that the README
holds exactly them.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined


def _type_name(ann: Any) -> str:
    origin = typing.get_origin(ann)
    if origin is typing.Literal:
        return " \\| ".join(repr(a) for a in typing.get_args(ann))
    if origin is typing.Annotated:
        return _type_name(typing.get_args(ann)[0])
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(a) for a in typing.get_args(ann))
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(ann))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return "mapping"
    return getattr(ann, "__name__", str(ann))


def _models(ann: Any) -> list[type[BaseModel]]:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return [ann]
    out: list[type[BaseModel]] = []
    for a in typing.get_args(ann):
        for m in _models(a):
            if m not in out:
                out.append(m)
    return out


def _variant(model: type[BaseModel]) -> str | None:
    """The tag of a tagged-union branch (a ``world: Literal["x"]`` field), else None."""
    f = model.model_fields.get("world")
    if f is None or typing.get_origin(f.annotation) is not typing.Literal:
        return None
    args = typing.get_args(f.annotation)
    return str(args[0]) if len(args) == 1 else None


def _default_text(d: Any) -> str:
    """A default as a scenario file would write it (a list of models as their YAML)."""
    if isinstance(d, BaseModel):
        return "mapping"
    if isinstance(d, list) and d and all(isinstance(x, BaseModel) for x in d):
        items = [x.model_dump(exclude_defaults=True) for x in d]
        return (
            "["
            + ", ".join("{" + ", ".join(f"{k}: {v}" for k, v in it.items()) + "}" for it in items)
            + "]"
        )
    return repr(d)


def rows(
    model: type[BaseModel], prefix: str = "", instance: BaseModel | None = None
) -> list[tuple[str, str, str, str]]:
    """(path, type, default, description) for every field, depth first.

    ``instance`` is the parent field's default value, whose values override the model's
    own defaults (``turning_side`` has other defaults than ``Turning``).
    """
    out = []
    for name, f in model.model_fields.items():
        if f.exclude:
            continue
        path = f"{prefix}{name}"
        d: Any = f.default
        if instance is not None:
            d = getattr(instance, name)
        if d is PydanticUndefined and f.default_factory is None:
            default = "required"
        else:
            default = _default_text(d)
        out.append(
            (path, _type_name(f.annotation), default, (f.description or "").replace("\n", " "))
        )
        for sub in _models(f.annotation):
            sub_rows = rows(sub, f"{path}.", d if isinstance(d, sub) else None)
            tag = _variant(sub)
            if tag:  # one branch of a tagged union: say which one a field belongs to
                sub_rows = [(p, t, d, f"({tag}) {desc}") for p, t, d, desc in sub_rows]
            out += sub_rows
    return out


def field_table(model: type[BaseModel]) -> list[str]:
    lines = ["| field | type | default | meaning |", "|---|---|---|---|"]
    seen = set()
    for path, typ, default, desc in rows(model):
        key = (path, desc)
        if key in seen:
            continue
        seen.add(key)
        lines.append(f"| `{path}` | {typ} | `{default}` | {desc} |")
    return lines
