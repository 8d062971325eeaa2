"""Named random streams: no two random activities of a run ever share a stream."""

from __future__ import annotations

import copy
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from parallel.core.executors import make_executor
from parallel.core.loop import run_loop
from parallel.core.seeds import Stage, children, stream
from parallel.traffic.machine import TrafficMachine
from parallel.traffic.scenario import load
from tests.conftest import TINY, write_scenario


def test_stream_is_reproducible_and_stage_owned() -> None:
    a, b = stream(7, Stage.EXPERIMENTS, 1, 2), stream(7, Stage.EXPERIMENTS, 1, 2)
    assert a.generate_state(4).tolist() == b.generate_state(4).tolist()
    # the same indices under another stage are another stream
    other = stream(7, Stage.ACTUAL, 1, 2)
    assert other.generate_state(4).tolist() != a.generate_state(4).tolist()
    assert [c.spawn_key for c in children(a, 2)] == [(5, 1, 2, 0), (5, 1, 2, 1)]


def test_every_stream_of_a_three_round_run_is_distinct(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Collect every seed key a 3-round run makes and check that activities never meet.

    The old scheme keyed the actual world ``(1, round)`` and experiments ``(round, rep)``:
    in round 2, replication r drew the actual world's round r + 1 numbers.
    """
    data = copy.deepcopy(TINY)
    data["loop"] = {"rounds": 3}
    data["experiments"]["replications"] = 3
    sc = load(write_scenario(tmp_path, data))
    made: list[tuple[int, ...]] = []
    real = np.random.SeedSequence

    class Recording(real):  # type: ignore[misc, valid-type]
        def __init__(self, entropy=None, *, spawn_key=(), **kw):  # type: ignore[no-untyped-def]
            super().__init__(entropy, spawn_key=spawn_key, **kw)
            if entropy == sc.seed and spawn_key:
                made.append(tuple(int(k) for k in spawn_key))

    monkeypatch.setattr(np.random, "SeedSequence", Recording)
    run_loop(TrafficMachine(sc, make_executor("sequential", 1)), 3)
    monkeypatch.undo()

    stages = {int(s) for s in Stage}
    assert made and all(k[0] in stages for k in made), sorted({k[0] for k in made} - stages)
    by_stage: dict[int, set[tuple[int, ...]]] = defaultdict(set)
    for k in made:
        by_stage[k[0]].add(k)
    # the actual world's streams (with every child) are shared with no other activity
    actual = by_stage[Stage.ACTUAL]
    others = set().union(*(v for s, v in by_stage.items() if s != Stage.ACTUAL))
    assert actual and not actual & others
    # every round's experiments and imitations have streams of their own
    for stage in (Stage.EXPERIMENTS, Stage.IMITATE, Stage.ACTUAL, Stage.JUDGE):
        rounds = {k[1] for k in by_stage[stage]}
        assert {0, 1, 2} <= rounds, (stage.name, rounds)
    # the actual world observed 3 rounds + the final application, each on its own stream
    assert {k[:2] for k in actual} == {(Stage.ACTUAL, r) for r in range(4)}
