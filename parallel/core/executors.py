"""Executors: where replications run, behind one small interface.

* ``sequential``: in this process, for debugging;
* ``process``: a local process pool (the default);
* ``dask``: a Dask distributed ``Client`` on a LocalCluster or a scheduler address.

Results come back in the order of the inputs whatever the executor, and seeds are part
of each task's arguments (never derived from worker identity), so every executor gives
identical numbers.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Protocol, TypeVar

from parallel.core.errors import RunError, UserInputError
from parallel.core.registry import Registry

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[int], None]


class Executor(Protocol):
    name: str
    workers: int

    def map(
        self, fn: Callable[[T], R], items: Sequence[T], progress: Progress | None = None
    ) -> list[R]:
        """Apply ``fn`` to every item; results in input order. ``progress(k)`` after k done."""
        ...

    def close(self, abort: bool = False) -> None:
        """Release the workers; ``abort`` (an interrupt) stops running work at once."""
        ...


class SequentialExecutor:
    name = "sequential"

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        self.workers = 1

    def map(
        self, fn: Callable[[T], R], items: Sequence[T], progress: Progress | None = None
    ) -> list[R]:
        out = []
        for i, item in enumerate(items):
            out.append(fn(item))
            if progress:
                progress(i + 1)
        return out

    def close(self, abort: bool = False) -> None:
        pass


def _worker_init() -> None:
    """A pool worker dies on SIGTERM (a forked worker would inherit the CLI's handler and
    turn the signal into an exception inside its task, then go on to the next one)."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class ProcessExecutor:
    name = "process"

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        # fork is fast and safe here: workers only run pure simulation functions
        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        self._pool = ProcessPoolExecutor(
            self.workers, mp_context=mp.get_context(method), initializer=_worker_init
        )

    def map(
        self, fn: Callable[[T], R], items: Sequence[T], progress: Progress | None = None
    ) -> list[R]:
        futures = {self._pool.submit(fn, item): i for i, item in enumerate(items)}
        out: list[Any] = [None] * len(items)
        for done, fut in enumerate(as_completed(futures), 1):
            out[futures[fut]] = fut.result()
            if progress:
                progress(done)
        return out

    def close(self, abort: bool = False) -> None:
        if abort:  # an interrupt: workers mid-simulation are stopped, not waited for
            for proc in list(getattr(self._pool, "_processes", {}).values()):
                proc.terminate()
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    name = "dask"

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise UserInputError(
                "the dask executor needs the [dask] extra: pip install 'parallel-systems[dask]'"
            ) from None
        self._cluster = None
        try:
            if address:
                self._client = Client(address, timeout="10s")
            else:
                self.workers_req = workers or os.cpu_count() or 1
                self._cluster = LocalCluster(
                    n_workers=self.workers_req,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
                self._client = Client(self._cluster)
        except OSError as exc:
            raise RunError(f"cannot reach the Dask scheduler {address!r}: {exc}") from None
        self.workers = len(self._client.scheduler_info().get("workers", {})) or 1

    def map(
        self, fn: Callable[[T], R], items: Sequence[T], progress: Progress | None = None
    ) -> list[R]:
        from dask.distributed import as_completed as dask_completed

        # pure=False: identical arguments must not be merged into one task
        futures = self._client.map(fn, list(items), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        out: list[Any] = [None] * len(items)
        for done, fut in enumerate(dask_completed(futures), 1):
            out[index[fut.key]] = fut.result()
            if progress:
                progress(done)
        return out

    def close(self, abort: bool = False) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


EXECUTORS: Registry[Callable[..., Executor]] = Registry("executor")
EXECUTORS.add("sequential", SequentialExecutor)
EXECUTORS.add("process", ProcessExecutor)
EXECUTORS.add("dask", DaskExecutor)


def make_executor(kind: str, workers: int | None = None, address: str | None = None) -> Executor:
    """Build an executor by name; raises ``RegistryError`` listing the valid names."""
    return EXECUTORS.get(kind)(workers=workers, address=address)
