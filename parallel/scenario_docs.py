"""Render the field reference of scenario files from the models' own docstrings.

``python -m parallel.scenario_docs`` prints the Markdown tables that
``scenarios/README.md`` embeds; a test checks that the README holds exactly them.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from parallel.scenario import ReferenceWorld, ReplayWorld, Scenario


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
            default = "mapping" if isinstance(d, BaseModel) else repr(d)
        out.append(
            (path, _type_name(f.annotation), default, (f.description or "").replace("\n", " "))
        )
        for sub in _models(f.annotation):
            sub_rows = rows(sub, f"{path}.", d if isinstance(d, sub) else None)
            if sub in (ReferenceWorld, ReplayWorld):  # say which world a field belongs to
                tag = "reference" if sub is ReferenceWorld else "replay"
                sub_rows = [(p, t, d, f"({tag}) {desc}") for p, t, d, desc in sub_rows]
            out += sub_rows
    return out


def _table(model: type[BaseModel]) -> list[str]:
    lines = ["| field | type | default | meaning |", "|---|---|---|---|"]
    seen = set()
    for path, typ, default, desc in rows(model):
        key = (path, desc)
        if key in seen:
            continue
        seen.add(key)
        lines.append(f"| `{path}` | {typ} | `{default}` | {desc} |")
    return lines


def reference_markdown() -> str:
    """The traffic scenario table, then the GAN scenario table."""
    from parallel.gan.scenario import GanScenario

    lines = _table(Scenario)
    lines += [
        "",
        "### GAN scenarios",
        "",
        "A file with a top-level `gan:` section is a GAN scenario. Keys of `gan.train` left "
        "out take the defaults for the data kind (toy or table: see `TOY_DEFAULTS` in "
        "`parallel/gan/scenario.py` and `TABLE_DEFAULTS` in `parallel/gan/synth.py`), not "
        "the generic defaults listed here.",
        "",
        *_table(GanScenario),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(reference_markdown(), end="")
