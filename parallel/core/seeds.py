"""Named random streams: every random activity of a run owns one stage of the seed tree.

A stream is ``numpy.random.SeedSequence(root, spawn_key=(stage, *key))``. The first
element of every spawn key is a :class:`Stage`, one per random activity, so two
activities can never draw from the same stream, whatever their rounds and replication
indices are. Within a stage the key says which round, replication or observation the
stream belongs to; inside a simulation :func:`children` derives one child per random
activity of the world (arrivals, speeds, headways, turning...).

Common random numbers come from using the *same* key on purpose: every cell of an
experiment design runs replication ``r`` of round ``k`` on ``(EXPERIMENTS, k, r)``.

Why a table and not bare numbers: an earlier version keyed the actual world's
observations ``(1, round)`` and experiment replications ``(round, rep)``, so replication
``r`` of round 2 drew the very numbers of the actual world's round ``r + 1``, and the
experiments were flattered by the data that later judged them.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Stage(IntEnum):
    """The random activities of a run. Values are part of every stored seed scheme:
    append new stages, never renumber."""

    ACTUAL = 1
    """The actual world's observation in round k: ``(ACTUAL, k)``."""
    JUDGE = 2
    """The judge's subsampling and permutations in round k: ``(JUDGE, k)``."""
    IMITATE = 3
    """Replication r of the artificial world under the current plan: ``(IMITATE, k, r)``."""
    DESIGN = 4
    """The experiment design of round k (Latin hypercube points): ``(DESIGN, k)``."""
    EXPERIMENTS = 5
    """Replication r of every design cell in round k: ``(EXPERIMENTS, k, r)``."""
    CALIBRATION = 6
    """Replication r against observation i during calibration: ``(CALIBRATION, i, r)``."""
    LEARNED_NORMALISE = 7
    """Draws that fix a learned behaviour's mean: ``(LEARNED_NORMALISE,)``."""
    LEARNED_COMPARE = 8
    """Draws that compare learned and parametric behaviours: ``(LEARNED_COMPARE,)``."""
    DEMAND = 9
    """Demand estimation (route sampling from probes): ``(DEMAND, k)``."""
    FIDELITY = 10
    """Replication r of plan p in the fidelity design: ``(FIDELITY, p, r)``."""
    GAN_DATA = 11
    """A GAN scenario's train/hold-out split of its table: ``(GAN_DATA,)``."""
    GAN_REAL = 12
    """Real rows a GAN round is judged on: ``(GAN_REAL, k)``."""
    GAN_FAKE = 13
    """Generated rows of a GAN round (latent and decoding): ``(GAN_FAKE, k, ...)``."""
    GAN_JUDGE = 14
    """The GAN judge's subsampling and permutations: ``(GAN_JUDGE, k, ...)``."""


def stream(root: int, stage: Stage, *key: int) -> np.random.SeedSequence:
    """The seed of ``stage`` at ``key`` under the run's ``root`` seed."""
    return np.random.SeedSequence(root, spawn_key=(int(stage), *map(int, key)))


def rng(root: int, stage: Stage, *key: int) -> np.random.Generator:
    """A generator on :func:`stream`'s seed."""
    return np.random.default_rng(stream(root, stage, *key))


def children(seed: np.random.SeedSequence, n: int) -> list[np.random.SeedSequence]:
    """The ``n`` child seeds of ``seed``, without mutating it.

    ``SeedSequence.spawn`` counts the children it has handed out, so calling it twice on
    the same object gives *different* children. Re-using a seed object (the same
    replication seed for every candidate plan) must give the same streams every time,
    so children are derived from the seed's entropy and spawn key alone.
    """
    return [np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, i)) for i in range(n)]
