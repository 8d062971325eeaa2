"""Big datasets as Parquet shards with a manifest, resumable and never half-written.

A dataset folder holds ``data/part-00000.parquet``, ``data/part-00001.parquet``, ... and
``manifest.json``::

    {"rows": N, "seed": S, "schema": {...}, "source": {...}, "shard_rows": K,
     "complete": true,
     "shards": [{"file": "data/part-00000.parquet", "rows": K, "sha256": "..."}]}

* Shard ``i`` is made from its own seed (``SeedSequence(seed, spawn_key=(i, batch))``), so
  the same seed gives the same rows however often the run was interrupted.
* A shard is written to a temporary file, synced and renamed; the manifest is rewritten
  (atomically) after every shard. An interrupted run leaves only complete shards that
  the manifest lists, plus at most a temporary file that the next run removes.
* Running the same command again skips the shards the manifest lists whose checksum
  still matches, and makes the rest. A folder that holds a different dataset (other
  source, rows, seed, shard size or schema) is refused with the differences listed.
* Memory stays bounded: a shard is written batch by batch (one row group per batch).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from queue import Queue
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from parallel.core.errors import UserInputError
from parallel.core.outdir import MARK
from parallel.core.runfolder import atomic_write, read_json

MANIFEST = "manifest.json"
DATA = "data"  # the shards' folder: pandas.read_parquet(OUT / "data") reads them all

#: batch(rows, seed_sequence) -> an Arrow table of exactly ``rows`` rows
BatchFn = Callable[[int, np.random.SeedSequence], pa.Table]


class DatasetMismatchError(UserInputError):
    """The output folder already holds a different dataset."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    atomic_write(out / MANIFEST, json.dumps(manifest, indent=1))


#: what makes two shard datasets the same (a rerun resumes only the same dataset)
_IDENTITY = ("rows", "seed", "shard_rows", "schema", "source")


def _batches(rows: int, batch_rows: int) -> Iterator[tuple[int, int]]:
    for b, start in enumerate(range(0, rows, batch_rows)):
        yield b, min(batch_rows, rows - start)


def _produce(
    batch: BatchFn, n: int, batch_rows: int, seed: int, index: int, threads: int
) -> Iterator[pa.Table]:
    """The shard's batches in order; ``threads`` > 1 makes them concurrently (torch and
    numpy release the GIL), with at most ``threads + 1`` batches in flight."""
    jobs = [
        (k, np.random.SeedSequence(seed, spawn_key=(index, b))) for b, k in _batches(n, batch_rows)
    ]
    if threads <= 1:
        for k, ss in jobs:
            yield batch(k, ss)
        return
    with ThreadPoolExecutor(threads) as pool:
        pending: deque[Future[pa.Table]] = deque()
        for k, ss in jobs:
            pending.append(pool.submit(batch, k, ss))
            if len(pending) > threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


#: shards per dataset: the manifest lists every one, and a plan of billions would hang
MAX_SHARDS = 100_000


def check_plan(rows: int, shard_rows: int) -> None:
    """Refuse a dataset of more shards than a manifest can list (before any work).

    Raises:
        UserInputError: naming both options.
    """
    n_shards = -(-rows // shard_rows)
    if n_shards > MAX_SHARDS:
        raise UserInputError(
            f"--rows {rows:,} in shards of {shard_rows:,} rows makes {n_shards:,} shards; at "
            f"most {MAX_SHARDS:,} per dataset: raise --shard-rows, or split the dataset"
        )


def _size(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def write_shards(
    out: Path,
    batch: BatchFn,
    *,
    rows: int,
    seed: int,
    schema: dict[str, Any],
    source: dict[str, Any],
    shard_rows: int = 1_000_000,
    batch_rows: int = 100_000,
    progress: Callable[[int, int], None] | None = None,
    extra: dict[str, Any] | None = None,
    threads: int = 1,
) -> dict[str, Any]:
    """Write ``rows`` rows as Parquet shards under ``out``; returns the manifest.

    ``batch`` must be safe to call from ``threads`` threads at once when ``threads`` > 1.

    Raises:
        UserInputError: ``rows`` or ``shard_rows`` is not positive, or ``out`` is a file or
            a non-empty folder that is not one of our datasets.
        DatasetMismatchError: ``out`` holds a different dataset.
    """
    if rows <= 0:
        raise UserInputError(f"--rows {rows}: give a positive number of rows")
    if shard_rows <= 0:
        raise UserInputError(f"--shard-rows {shard_rows}: give a positive number of rows")
    check_plan(rows, shard_rows)
    if out.exists() and not out.is_dir():
        raise UserInputError(f"--out {out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {
        "rows": rows,
        "seed": seed,
        "shard_rows": shard_rows,
        "schema": schema,
        "source": source,
        "format": "parquet",
        "seed_scheme": "numpy SeedSequence(seed, spawn_key=(shard, batch))",
        **(extra or {}),
        "complete": False,
        "shards": [],
    }
    done = resume_from(out, manifest)
    todo, reused = _plan_shards(out, manifest, done, rows, shard_rows)
    if progress:
        progress(reused, rows)
    (out / DATA).mkdir(exist_ok=True)
    _pipeline(out, manifest, todo, seed, batch, batch_rows, threads, progress, reused, rows)
    manifest["shards"].sort(key=lambda sh: sh["file"])
    listed = {sh["file"] for sh in manifest["shards"]}
    for extra_file in out.glob(f"{DATA}/part-*.parquet"):
        if f"{DATA}/{extra_file.name}" not in listed:
            extra_file.unlink()
    manifest["complete"] = True
    _write_manifest(out, manifest)
    return manifest


def previous_manifest(
    out: Path, manifest: dict[str, Any], identity: tuple[str, ...], subdirs: tuple[str, ...]
) -> dict[str, Any] | None:
    """The manifest an earlier run of the *same* dataset left in ``out`` (None for a new
    or empty folder). The one resume rule every dataset writer shares: a folder with
    another dataset, or with files and no manifest, is refused; stray temporary files of
    an interrupted run (never listed) are removed from ``out`` and ``subdirs``.

    Raises:
        DatasetMismatchError: ``out`` holds a different dataset (the differences named).
        UserInputError: ``out`` is a non-empty folder without a manifest.
    """
    old = None
    if (out / MANIFEST).is_file():
        old = read_json(out / MANIFEST)
        diff = [
            f"{k}: {old.get(k)!r} -> {manifest.get(k)!r}"
            for k in identity
            if old.get(k) != manifest.get(k)
        ]
        if diff:
            raise DatasetMismatchError(
                f"--out {out} holds a different dataset; refusing to write into it. "
                f"Differences: {'; '.join(diff)}. Give a new folder"
            )
    elif any(p for p in out.iterdir() if not p.name.startswith(".")):
        raise UserInputError(
            f"--out {out} is a non-empty folder without a {MANIFEST}; give a new or empty folder"
        )
    for sub in subdirs:
        (out / sub).mkdir(exist_ok=True)
    if old is not None or (out / MARK).is_file():  # only in a folder of ours
        for stray in [
            *out.glob(".*.tmp"),
            *(s for d in subdirs for s in (out / d).glob(".*.tmp")),
        ]:
            stray.unlink()
    return old


def resume_from(out: Path, manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The shards an earlier run of the same dataset listed, by file name
    (see :func:`previous_manifest`)."""
    old = previous_manifest(out, manifest, _IDENTITY, (DATA,))
    return {s["file"]: s for s in old.get("shards", [])} if old else {}


def _plan_shards(
    out: Path,
    manifest: dict[str, Any],
    done: dict[str, dict[str, Any]],
    rows: int,
    shard_rows: int,
) -> tuple[list[tuple[int, str, int]], int]:
    """Shards still to make, and the rows of those kept (listed, present, checksum good)."""
    todo: list[tuple[int, str, int]] = []
    reused = 0
    for i in range(-(-rows // shard_rows)):
        n = min(shard_rows, rows - i * shard_rows)
        name = f"{DATA}/part-{i:05d}.parquet"
        prev = done.get(name)
        path = out / name
        if prev and prev["rows"] == n and path.is_file() and sha256_file(path) == prev["sha256"]:
            manifest["shards"].append(prev)
            reused += n
        else:
            todo.append((i, name, n))
    return todo, reused


class _HashingFile:
    """A write-only binary file that hashes what passes through it (no second read)."""

    def __init__(self, path: str) -> None:
        self.fh = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.sha = hashlib.sha256()
        self.closed = False

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        return self.fh.write(data)

    def flush(self) -> None:
        self.fh.flush()

    def tell(self) -> int:
        return self.fh.tell()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        if not self.closed:
            self.fh.flush()
            os.fsync(self.fh.fileno())
            self.fh.close()
            self.closed = True


def _open_shard(
    target: Path, schema: pa.Schema, tmp_of: dict[str, str], name: str
) -> tuple[pq.ParquetWriter, _HashingFile]:
    """A Parquet writer on a hashing temporary file beside ``target`` (renamed when sealed)."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp_of[name] = tmp
    sink = _HashingFile(tmp)
    # dictionary-encode only what repeats (categories, text): trying it on random doubles
    # costs three times the whole write and saves nothing
    repeat = [
        f.name for f in schema if pa.types.is_dictionary(f.type) or pa.types.is_string(f.type)
    ]
    # and compress only those: snappy cannot shrink random doubles
    writer = pq.ParquetWriter(
        sink,
        schema,
        compression={f.name: "snappy" if f.name in repeat else "none" for f in schema},
        use_dictionary=repeat,
    )
    return writer, sink


def _pipeline(
    out: Path,
    manifest: dict[str, Any],
    todo: list[tuple[int, str, int]],
    seed: int,
    batch: BatchFn,
    batch_rows: int,
    threads: int,
    progress: Callable[[int, int], None] | None,
    before: int,
    total: int,
) -> None:
    """Make the shards in ``todo``.

    Batches come from ``threads`` producer threads, in order; one writer thread encodes
    them, seals each shard (sync, rename) and rewrites the manifest while the next shard
    is already being generated. The queue holds at most two batches, so memory stays
    bounded.
    """
    queue: Queue[tuple[str, int, str, pa.Table | None] | None] = Queue(maxsize=2)
    failure: list[BaseException] = []
    tmp_of: dict[str, str] = {}
    sealed: list[tuple[int, int]] = []  # (rows, bytes) of the shards this call sealed

    def write() -> None:
        writer: pq.ParquetWriter | None = None
        sink: _HashingFile | None = None
        try:
            while (item := queue.get()) is not None:
                kind, n, name, table = item
                if kind == "batch":
                    assert table is not None
                    if writer is None:
                        writer, sink = _open_shard(out / name, table.schema, tmp_of, name)
                    writer.write_table(table, row_group_size=table.num_rows)
                else:  # the shard is complete: seal it, then list it
                    assert writer is not None and sink is not None
                    writer.close()
                    sink.close()
                    writer = None
                    os.replace(tmp_of.pop(name), out / name)
                    manifest["shards"].append(
                        {"file": name, "rows": n, "sha256": sink.sha.hexdigest()}
                    )
                    _write_manifest(out, manifest)
                    sealed.append((n, (out / name).stat().st_size))
                    if len(sealed) == 1:
                        _check_space(out, sealed[0], total - before - n)
        except BaseException as exc:  # handed to the main thread
            failure.append(exc)
            while queue.get() is not None:  # drain, so the producer never blocks
                pass
        finally:
            if writer is not None:
                writer.close()
            if sink is not None:
                sink.close()
            for tmp in tmp_of.values():
                Path(tmp).unlink(missing_ok=True)

    thread = threading.Thread(target=write, name="shard-writer", daemon=True)
    thread.start()
    done = before
    try:
        for index, name, n in todo:
            for table in _produce(batch, n, batch_rows, seed, index, threads):
                if failure:
                    break
                queue.put(("batch", n, name, table))
                done += table.num_rows
                if progress:
                    progress(done, total)
            if failure:
                break
            queue.put(("end", n, name, None))
    finally:
        queue.put(None)
        thread.join()
    if failure:
        raise failure[0]


def _check_space(out: Path, first: tuple[int, int], rows_left: int) -> None:
    """After the first shard: refuse to go on when the rest would not fit on the disk (what
    is written stays listed, so a rerun with room resumes)."""
    import shutil

    rows, size = first
    need = size / max(rows, 1) * rows_left
    free = shutil.disk_usage(out).free
    if need > 0.95 * free:
        raise UserInputError(
            f"--out {out}: the remaining {rows_left:,} rows need about {_size(need)} "
            f"(measured on the first shard) and {_size(free)} are free; free some space "
            "or give fewer --rows, then rerun the same command to resume"
        )


def verify(out: Path) -> list[str]:
    """Problems with a dataset folder: missing shards, checksum or row-count mismatches.

    Raises:
        UserInputError: the folder has no readable manifest.
    """
    try:
        m = read_json(out / MANIFEST)
    except (OSError, ValueError) as exc:
        raise UserInputError(
            f"{out}: no readable {MANIFEST} ({type(exc).__name__}); give a folder written by "
            "`parallel generate`"
        ) from None
    problems = []
    total = 0
    for s in m["shards"]:
        p = out / s["file"]
        if not p.is_file():
            problems.append(f"{s['file']}: missing")
            continue
        if sha256_file(p) != s["sha256"]:
            problems.append(
                f"{s['file']}: checksum mismatch (the file changed after it was written)"
            )
            continue  # a corrupted file may not even open as Parquet
        if pq.ParquetFile(p).metadata.num_rows != s["rows"]:
            problems.append(f"{s['file']}: row count differs from the manifest")
        total += s["rows"]
    if m.get("complete") and total != m["rows"]:
        problems.append(f"shards hold {total} rows, the manifest says {m['rows']}")
    return problems
