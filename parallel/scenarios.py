"""The kinds of scenario file, and their field reference.

A scenario with a top-level ``gan:`` section is a GAN scenario
(:mod:`parallel.gan.scenario`); one with a ``sumo:`` section is a city scenario on a real
SUMO network (:mod:`parallel.traffic.city`); any other is a traffic scenario
(:mod:`parallel.traffic.scenario`). ``python -m parallel.scenarios`` prints the field
reference that ``scenarios/README.md`` embeds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from parallel.config.docs import field_table
from parallel.config.yamlsrc import load_yaml
from parallel.core.errors import ScenarioError
from parallel.traffic.scenario import Scenario

Kind = Literal["traffic", "city", "gan"]


def kind_of(path: str | Path) -> Kind:
    """Which kind of scenario a file is, from its top-level keys (without validating).

    A file that cannot be read is called ``traffic``: its loader then reports the error.
    """
    try:
        data, _ = load_yaml(path)
    except ScenarioError:
        return "traffic"
    if "gan" in data:
        return "gan"
    return "city" if "sumo" in data else "traffic"


def load_any(path: str | Path, overrides: dict[str, Any] | None = None) -> Any:
    """Load a scenario of any kind with its own loader.

    Raises:
        ScenarioError: what is wrong with the file, naming the file, line and field.
    """
    from parallel.gan.scenario import load_gan
    from parallel.traffic.city import load_city
    from parallel.traffic.scenario import load

    loaders = {"gan": load_gan, "city": load_city, "traffic": load}
    return loaders[kind_of(path)](path, overrides)


def reference_markdown() -> str:
    """The traffic scenario table, then the GAN scenario table."""
    from parallel.gan.scenario import GanScenario
    from parallel.traffic.city import CityScenario

    lines = field_table(Scenario)
    lines += [
        "",
        "### GAN scenarios",
        "",
        "A file with a top-level `gan:` section is a GAN scenario. Keys of `gan.train` left "
        "out take the defaults for the data kind (toy or table: see `TOY_DEFAULTS` in "
        "`parallel/gan/scenario.py` and `TABLE_DEFAULTS` in `parallel/gan/synth.py`), not "
        "the generic defaults listed here.",
        "",
        *field_table(GanScenario),
        "",
        "### City scenarios",
        "",
        "A file with a top-level `sumo:` section is a city scenario on a real SUMO network "
        "(`parallel fidelity`; see *Real road networks* above).",
        "",
        *field_table(CityScenario),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(reference_markdown(), end="")
