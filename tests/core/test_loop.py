"""The loop and the run-folder routine, driven by a small fake machine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from parallel.core.loop import History, run_loop
from parallel.core.runner import Hooks, run_machine


class Counter:
    """A machine whose artificial system moves halfway to the actual one each round."""

    name = "fake"

    def __init__(self, fail_in: str | None = None) -> None:
        self.actual, self.artificial, self.control = 10.0, 0.0, 0
        self.calls: list[str] = []
        self.fail_in = fail_in

    def _call(self, verb: str, rnd: int) -> None:
        self.calls.append(f"{verb}{rnd}")
        if verb == self.fail_in:
            raise RuntimeError(f"{verb} broke")

    def observe(self, rnd: int) -> float:
        self._call("observe", rnd)
        return self.actual

    def imitate(self, rnd: int) -> float:
        self._call("imitate", rnd)
        return self.artificial

    def judge(self, rnd: int, actual: float, artificial: float) -> dict[str, Any]:
        self._call("judge", rnd)
        return {"gap": actual - artificial}

    def adapt(self, rnd: int, actual: float) -> dict[str, Any]:
        self._call("adapt", rnd)
        self.artificial += (actual - self.artificial) / 2
        return {"artificial": self.artificial}

    def act(self, rnd: int) -> dict[str, Any]:
        self._call("act", rnd)
        self.control += 1
        return {"control": self.control}

    def finish(self) -> dict[str, Any]:
        self.calls.append("finish")
        return {"control": self.control}


def test_run_loop_calls_the_verbs_in_order_and_records_each_round() -> None:
    m = Counter()
    events: list[tuple[str, int]] = []
    hist = run_loop(m, 3, lambda verb, r, info: events.append((verb, r)))
    assert m.calls[:5] == ["observe0", "imitate0", "judge0", "adapt0", "act0"]
    assert m.calls[-1] == "finish" and len(m.calls) == 16
    assert [r["gap"] for r in hist.rounds] == [10.0, 5.0, 2.5]  # judged before adapting
    assert [r["round"] for r in hist.rounds] == [1, 2, 3]
    assert hist.final == {"control": 3} and len(hist.timings["round_s"]) == 3
    assert ("round_done", 2) in events and ("finish", 3) in events


def _hooks() -> Hooks:
    return Hooks(
        summary=lambda m, h: {"final_gap": h.rounds[-1]["gap"], "calls": len(m.calls)},
        metrics=lambda h: pd.DataFrame({"round": [r["round"] for r in h.rounds]}),
        render=lambda folder: folder.write_text("report.html", "<html></html>"),
    )


def _run(tmp_path: Path, machine: Counter, closed: list[bool]) -> Any:
    return run_machine(
        name="fake",
        seed=3,
        out_parent=tmp_path,
        resolved_yaml="name: fake\n",
        info={"seed": 3},
        build=lambda folder: machine,
        rounds=lambda m: 2,
        hooks=_hooks(),
        cleanup=lambda aborted: closed.append(not aborted),
    )


def test_run_machine_writes_a_complete_folder(tmp_path: Path) -> None:
    closed: list[bool] = []
    folder, summary = _run(tmp_path, Counter(), closed)
    assert summary == {"final_gap": 5.0, "calls": 11} and closed == [True]
    root = folder.root
    for name in ("scenario.resolved.yaml", "history.json", "summary.json", "metrics.csv"):
        assert (root / name).is_file(), name
    assert json.loads((root / "run.json").read_text())["status"] == "finished"
    assert len(json.loads((root / "history.json").read_text())["rounds"]) == 2
    assert (root / "report.html").read_text() == "<html></html>"


def test_a_failing_machine_leaves_a_folder_that_says_so(tmp_path: Path) -> None:
    closed: list[bool] = []
    with pytest.raises(RuntimeError, match="adapt broke"):
        _run(tmp_path, Counter(fail_in="adapt"), closed)
    (run_json,) = tmp_path.rglob("run.json")
    info = json.loads(run_json.read_text())
    assert info["status"] == "failed" and "adapt broke" in info["error"]
    assert closed == [True] and not list(tmp_path.rglob("summary.json"))


def test_history_is_plain_data() -> None:
    hist = run_loop(Counter(), 1)
    assert isinstance(hist, History)
    json.dumps({"rounds": hist.rounds, "final": hist.final, "timings": hist.timings})


class Resumable(Counter):
    """The fake machine with its state written down and read back."""

    def state(self) -> dict[str, Any]:
        return {"artificial": self.artificial, "control": self.control}

    def restore(self, state: dict[str, Any]) -> None:
        self.artificial, self.control = state["artificial"], state["control"]


def test_a_resumable_machine_checkpoints_every_round_and_goes_on_from_the_last(
    tmp_path: Path,
) -> None:
    closed: list[bool] = []
    _, whole = _run(tmp_path / "whole", Resumable(), closed)

    class Stop(Resumable):
        def act(self, rnd: int) -> dict[str, Any]:
            if rnd == 1:
                raise KeyboardInterrupt
            return super().act(rnd)

    with pytest.raises(KeyboardInterrupt) as stopped:
        _run(tmp_path / "cut", Stop(), closed)
    (root,) = (p.parent for p in (tmp_path / "cut").rglob("run.json"))
    assert stopped.value.__notes__ == [f"its finished rounds are kept: go on with --resume {root}"]
    saved = json.loads((root / "checkpoint.json").read_text())
    assert len(saved["rounds"]) == 1 and saved["state"] == {"artificial": 5.0, "control": 1}
    assert json.loads((root / "run.json").read_text())["status"] == "interrupted"

    fresh = Resumable()
    folder, summary = run_machine(
        name="fake", seed=3, out_parent=tmp_path, resolved_yaml="name: fake\n",
        info={"seed": 3}, build=lambda folder: fresh, rounds=lambda m: 2, hooks=_hooks(),
        resume=root,
    )  # fmt: skip
    assert folder.root == root
    # round 1 was not run again; round 2 started from the restored state
    assert fresh.calls == ["observe1", "imitate1", "judge1", "adapt1", "act1", "finish"]
    assert summary["final_gap"] == whole["final_gap"]
    hist = json.loads((root / "history.json").read_text())
    assert [r["round"] for r in hist["rounds"]] == [1, 2] and len(hist["timings"]["round_s"]) == 2
    assert json.loads((root / "run.json").read_text())["resumed_after_round"] == 1
    assert not (root / "checkpoint.json").exists()  # a finished run is not continued


def test_resume_refuses_another_scenario_and_a_finished_run(tmp_path: Path) -> None:
    from parallel.core.errors import UserInputError
    from parallel.core.runner import resumable

    folder, _ = _run(tmp_path / "done", Resumable(), [])
    with pytest.raises(UserInputError, match="that run finished"):
        resumable(folder.root, "name: fake\n")

    class Stop(Resumable):
        def act(self, rnd: int) -> dict[str, Any]:
            if rnd == 1:
                raise RuntimeError("SUMO crashed")
            return super().act(rnd)

    with pytest.raises(RuntimeError):
        _run(tmp_path / "cut", Stop(), [])
    (root,) = (p.parent for p in (tmp_path / "cut").rglob("run.json"))
    with pytest.raises(UserInputError, match=r"differs from the run's at 'loop.rounds'"):
        resumable(root, "name: fake\nloop: {rounds: 3}\n")
    # where the runs go is not the scenario: every executor gives the same numbers
    assert resumable(root, "name: fake\nexecutor: {kind: dask}\n")["rounds"]
    with pytest.raises(UserInputError, match="not a run folder"):
        resumable(tmp_path, "name: fake\n")
