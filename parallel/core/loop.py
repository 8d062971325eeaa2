"""The parallel machine: one loop of five verbs over a pair (actual, artificial).

``run_loop`` drives any :class:`Machine`: each round it observes the actual system,
imitates it with the artificial one, judges the pair, adapts the artificial system and
acts on the actual one. The History it returns is plain JSON-ready data, read by the
reports; a GAN and a traffic twin are reported the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger(__name__)

Event = Callable[[str, int, dict[str, Any]], None]


class Machine(Protocol):
    """A parallel machine: an actual system, an artificial one, a judge and a controller."""

    name: str

    def observe(self, rnd: int) -> Any:
        """Read the actual system under the current control."""
        ...

    def imitate(self, rnd: int) -> Any:
        """Run the artificial system under the same conditions."""
        ...

    def judge(self, rnd: int, actual: Any, artificial: Any) -> dict[str, Any]:
        """How far apart are they? Returns the round's verdict entries."""
        ...

    def adapt(self, rnd: int, actual: Any) -> dict[str, Any]:
        """Change the artificial system to shrink the gap; returns what changed."""
        ...

    def act(self, rnd: int) -> dict[str, Any]:
        """Choose the control for the next round by computational experiments."""
        ...

    def finish(self) -> dict[str, Any]:
        """Apply the last chosen control and report the outcome."""
        ...


@dataclass
class History:
    """What happened, round by round."""

    rounds: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Resumable(Protocol):
    """A machine whose state between rounds can be written down and read back."""

    def state(self) -> dict[str, Any]:
        """Everything the next round starts from, JSON-ready."""
        ...

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from what :meth:`state` returned."""
        ...


def run_loop(
    machine: Machine,
    rounds: int,
    on_event: Event | None = None,
    *,
    start: History | None = None,
    checkpoint: Callable[[History], None] | None = None,
) -> History:
    """Run ``rounds`` rounds of observe -> imitate -> judge -> adapt -> act, then finish.

    Args:
        start: the rounds an interrupted run finished (its machine restored to where they
            left it); the loop goes on from the next.
        checkpoint: called after every round with the history so far.
    """
    hist = start or History()
    emit = on_event or (lambda verb, r, info: None)
    round_times: list[float] = hist.timings.setdefault("round_s", [])
    for r in range(len(hist.rounds), rounds):
        t0 = time.perf_counter()
        rec: dict[str, Any] = {"round": r + 1}
        emit("observe", r, {})
        actual = machine.observe(r)
        emit("imitate", r, {})
        artificial = machine.imitate(r)
        emit("judge", r, {})
        rec.update(machine.judge(r, actual, artificial))
        emit("adapt", r, {})
        rec.update(machine.adapt(r, actual))
        emit("act", r, {})
        rec.update(machine.act(r))
        hist.rounds.append(rec)
        round_times.append(time.perf_counter() - t0)
        if checkpoint is not None:
            checkpoint(hist)
        emit("round_done", r, rec)
        log.info("round %d done in %.1f s", r + 1, round_times[-1])
    emit("finish", rounds, {})
    hist.final = machine.finish()
    return hist
