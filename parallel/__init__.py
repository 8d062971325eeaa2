"""Parallel: artificial systems beside actual ones, judged and corrected round by round.

The package follows the ACP method: an *artificial* world (a fast SimPy model) is run
beside an *actual* one (a microscopic reference world, replayed logs or SUMO), judged
against it, calibrated, and used for computational experiments whose best control is
applied back to the actual world. The README shows the layout; ``docs/metrics.md`` defines
every score.
"""

__version__ = "0.1.0"
