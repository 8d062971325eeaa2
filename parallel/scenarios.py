"""The kinds of scenario file, and their field reference.

A scenario with a top-level ``gan:`` section is a GAN scenario
(:mod:`parallel.gan.scenario`); any other is a traffic scenario
(:mod:`parallel.traffic.scenario`). ``python -m parallel.scenarios`` prints the field
reference that ``scenarios/README.md`` embeds.
"""

from __future__ import annotations

from parallel.config.docs import field_table
from parallel.traffic.scenario import Scenario


def reference_markdown() -> str:
    """The traffic scenario table, then the GAN scenario table."""
    from parallel.gan.scenario import GanScenario

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
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(reference_markdown(), end="")
