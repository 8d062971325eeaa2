"""``parallel generate vision``: labelled frames rendered from simulated traffic.

The frames are cut into chunks (``--chunk-frames``, 250). Chunk ``c`` is one replication
of the artificial world, seeded ``SeedSequence(seed, spawn_key=(c,))``, rendered at
one-second steps after a minute of warm-up; chunks run on the executor, a wave at a time,
so memory stays bounded. A chunk writes

* ``images/NNNNNN.png`` and ``masks/NNNNNN.png`` (the semantic mask, classes in
  ``manifest.json``), each through a temporary file and a rename;
* ``coco/part-CCCCC.json``: COCO ``images``, ``annotations`` (``bbox`` as x, y, w, h in
  pixels, ``category_id``, ``vehicle_id``, ``track_id``) and ``categories``;
* ``frames/part-CCCCC.parquet``: one row per frame: time, visible vehicles per class
  (the counts table) and every appearance setting drawn for it.

``manifest.json`` lists the finished chunks with the checksum of their COCO part; running
the same command again makes only the missing chunks, and a folder that holds another
dataset is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from parallel.core.errors import DataError, UserInputError
from parallel.core.runfolder import atomic_write, read_json
from parallel.data.shards import previous_manifest, sha256_file

MANIFEST = "manifest.json"
WARMUP_S = 60.0
#: the merged COCO file, relative to the dataset folder
COCO_FILE = "annotations/instances.json"
Progress = Callable[[int, int], None]


def _atomic_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, data)


def _png(img: Any) -> bytes:
    import io

    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def render_chunk(job: dict[str, Any]) -> dict[str, Any]:
    """Simulate one replication and render its frames into ``job['out']``."""
    from parallel.traffic.artificial.model import simulate_driving
    from parallel.traffic.signals import Timing
    from parallel.vision.render import BEV, Appearance, Camera
    from parallel.vision.scene import CLASSES, Timeline

    spec, params, plan = job["spec"], job["params"], job["plan"]
    out, size, first, n = Path(job["out"]), job["size"], job["first_frame"], job["frames"]
    ss = np.random.SeedSequence(job["seed"], spawn_key=(job["chunk"],))
    sim_seed, look_seed = ss.spawn(2)
    run = f"chunk{job['chunk']}"
    topo = spec.topology()
    timeline = Timeline(simulate_driving(spec, params, plan, sim_seed, run, topo), topo)
    timing = Timing(plan, spec.control.lost_time_s)
    view = BEV(topo, size) if job["view"] == "bev" else Camera(topo, size)
    which = tuple(job["randomize"])
    rng = np.random.default_rng(look_seed)
    horizon = spec.t1 - spec.t0 - WARMUP_S
    dt = min(1.0, horizon / max(n, 1))
    images, annotations, rows = [], [], []
    for k in range(n):
        frame = first + k
        t = spec.t0 + WARMUP_S + k * dt
        app = (
            Appearance.draw(rng, which)
            if which
            else Appearance(vehicle_palette_seed=int(rng.integers(2**31)))
        )
        veh = timeline.at(t)
        img, mask, box, visible = view.render(veh, timing, t, app)
        name = f"{frame:06d}.png"
        _atomic_bytes(out / "images" / name, _png(img))
        _atomic_bytes(out / "masks" / name, _png(mask))
        images.append(
            {
                "id": frame,
                "file_name": f"images/{name}",
                "mask_file": f"masks/{name}",
                "width": size,
                "height": size,
                "time_s": t,
                "run": run,
            }
        )
        counts = dict.fromkeys(CLASSES, 0)
        for no, i in enumerate(np.flatnonzero(visible), start=1):
            x0, y0, x1, y1 = (float(v) for v in box[i])
            annotations.append(
                {
                    "id": frame * 1000 + no,
                    "image_id": frame,
                    "category_id": int(veh.cls[i]) + 1,
                    "bbox": [round(x0, 3), round(y0, 3), round(x1 - x0, 3), round(y1 - y0, 3)],
                    "area": round((x1 - x0) * (y1 - y0), 3),
                    "iscrowd": 0,
                    "vehicle_id": int(veh.vehicle_id[i]),
                    "track_id": int(veh.track[i]),
                }
            )
            counts[CLASSES[veh.cls[i]]] += 1
        rows.append(
            {
                "frame": frame,
                "time_s": t,
                "run": run,
                "on_network": len(veh),
                "visible": int(visible.sum()),
                **{f"n_{c}": v for c, v in counts.items()},
                **app.record(),
            }
        )
    return {"chunk": job["chunk"], "images": images, "annotations": annotations, "rows": rows}


def _categories() -> list[dict[str, Any]]:
    from parallel.vision.scene import CLASSES

    return [{"id": i + 1, "name": c, "supercategory": "vehicle"} for i, c in enumerate(CLASSES)]


def _world(source: Path) -> tuple[Any, Any, Any, dict[str, Any]]:
    """(spec, params, plan, provenance) from a run folder or a scenario file."""
    from parallel.data.generate import run_world

    if source.is_dir():
        return run_world(source)
    if source.suffix.lower() in (".yaml", ".yml") and source.is_file():
        from parallel.data.generate import scenario_world

        return scenario_world(source)
    raise DataError(f"--from {source}: give a run folder (from `parallel run`) or a scenario .yaml")


def generate_vision(
    *,
    source: Path,
    out: Path,
    frames: int,
    seed: int = 0,
    size: int = 128,
    view: str = "bev",
    randomize: list[str] | None = None,
    chunk_frames: int = 250,
    executor: str = "process",
    workers: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Render ``frames`` labelled frames of the world in ``source`` (a run folder or a
    scenario) into ``out``; returns the manifest. An interrupted call resumes.

    Raises:
        UserInputError: bad arguments, a bad source, or a folder holding another dataset.
    """
    from parallel.core.executors import make_executor
    from parallel.vision.render import MASK_CLASSES

    if frames <= 0:
        raise UserInputError(f"frames={frames}: give a positive number of frames")
    if not 32 <= size <= 1024:
        raise UserInputError(f"size={size}: give a size from 32 to 1024 pixels")
    if chunk_frames <= 0:
        raise UserInputError(f"chunk_frames={chunk_frames}: give a positive number")
    which = _parse_randomize(randomize)
    spec, params, plan, where = _world(source)
    if out.exists() and not out.is_dir():
        raise UserInputError(f"--out {out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {
        "frames": frames,
        "seed": seed,
        "size": size,
        "view": view,
        "randomize": list(which),
        "chunk_frames": chunk_frames,
        "source": where,
        "categories": _categories(),
        "mask_classes": MASK_CLASSES,
        "seed_scheme": "chunk c: SeedSequence(seed, spawn_key=(c,)); simulation and looks spawned from it",
        "complete": False,
        "chunks": [],
    }
    done = _resume_chunks(out, manifest)
    job = {"spec": spec, "params": params, "plan": plan, "seed": seed, "size": size,
           "view": view, "randomize": which, "out": str(out)}  # fmt: skip
    jobs = []
    for c in range(-(-frames // chunk_frames)):
        prev = done.get(c)
        part = out / prev["coco"] if prev else None
        if prev and part and part.is_file() and sha256_file(part) == prev["sha256"]:
            manifest["chunks"].append(prev)  # kept: listed and intact
            continue
        first = c * chunk_frames
        jobs.append(
            job | {"chunk": c, "first_frame": first, "frames": min(chunk_frames, frames - first)}
        )
    made = sum(c["frames"] for c in manifest["chunks"])
    if progress:
        progress(made, frames)
    ex = make_executor(executor, workers)
    try:
        wave = max(ex.workers, 1) * 2
        for start in range(0, len(jobs), wave):
            for res in ex.map(render_chunk, jobs[start : start + wave]):
                made += _write_chunk(out, res, manifest)
                if progress:
                    progress(made, frames)
    finally:
        ex.close()
    _merge_coco(out, manifest)
    manifest["complete"] = True
    manifest["annotations"] = COCO_FILE
    _atomic_bytes(out / MANIFEST, json.dumps(manifest, indent=1).encode())
    return manifest


def _merge_coco(out: Path, manifest: dict[str, Any]) -> None:
    """One COCO file for the whole dataset, as COCO's own tools expect: ``info``,
    ``licenses``, every image and annotation (ids are unique across chunks), categories."""
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for chunk in manifest["chunks"]:
        part = read_json(out / chunk["coco"])
        images += part["images"]
        annotations += part["annotations"]
    coco = {
        "info": {
            "description": "Parallel synthetic traffic frames, labelled from the simulation",
            "version": "1.0",
            "year": datetime.now(timezone.utc).year,
            "date_created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "contributor": "parallel generate vision",
            "url": "",
        },
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": _categories(),
    }
    (out / "annotations").mkdir(exist_ok=True)
    _atomic_bytes(out / COCO_FILE, json.dumps(coco).encode())


def _resume_chunks(out: Path, manifest: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Chunks an earlier run of the same dataset listed (the shared resume rule of
    :func:`parallel.data.shards.previous_manifest`)."""
    ident = ("frames", "seed", "size", "view", "randomize", "chunk_frames", "source")
    old = previous_manifest(out, manifest, ident, ("images", "masks", "coco", "frames"))
    return {c["index"]: c for c in old["chunks"]} if old else {}


def _write_chunk(out: Path, res: dict[str, Any], manifest: dict[str, Any]) -> int:
    """Seal one rendered chunk (its COCO part and frame table), then list it in the
    manifest; returns its frame count."""
    c = res["chunk"]
    coco = {"images": res["images"], "annotations": res["annotations"], "categories": _categories()}
    rel = f"coco/part-{c:05d}.json"
    _atomic_bytes(out / rel, json.dumps(coco).encode())
    _atomic_bytes(out / f"frames/part-{c:05d}.parquet", _parquet(pd.DataFrame(res["rows"])))
    manifest["chunks"].append(
        {
            "index": c,
            "frames": len(res["images"]),
            "coco": rel,
            "sha256": hashlib.sha256((out / rel).read_bytes()).hexdigest(),
        }
    )
    manifest["chunks"].sort(key=lambda x: x["index"])
    _atomic_bytes(out / MANIFEST, json.dumps(manifest, indent=1).encode())
    return len(res["images"])


def _parquet(df: pd.DataFrame) -> bytes:
    import io

    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def _parse_randomize(values: list[str] | None) -> tuple[str, ...]:
    from parallel.vision.render import RANDOMIZE

    if not values:
        return ()
    items = [v.strip() for item in values for v in item.split(",") if v.strip()]
    if items == ["all"]:
        return RANDOMIZE
    if items == ["none"]:
        return ()
    bad = [v for v in items if v not in RANDOMIZE]
    if bad:
        raise UserInputError(
            f"--randomize {', '.join(bad)}: unknown; choose from {', '.join(RANDOMIZE)}, all or none"
        )
    return tuple(v for v in RANDOMIZE if v in items)
