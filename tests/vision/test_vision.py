"""`parallel generate vision`: labels agree with the simulated positions, masks agree with
labels, and the dataset folder behaves like the other generated datasets."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from parallel.core.errors import UserInputError
from parallel.data.generate import scenario_world
from parallel.data.shards import DatasetMismatchError
from parallel.traffic.artificial.model import simulate_driving
from parallel.vision.dataset import generate_vision
from parallel.vision.scene import CLASSES, SIZES, Timeline
from tests.conftest import TINY, run_cli, write_scenario

SIZE = 128
EXTENT_M = 150.0


def _args(src: Path, out: Path, **kw: object) -> dict[str, Any]:
    base = dict(
        source=src,
        out=out,
        frames=40,
        size=SIZE,
        view="bev",
        randomize=["jitter"],
        seed=3,
        chunk_frames=20,
        executor="sequential",
        workers=None,
    )
    return base | kw


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = TINY | {
        "artificial": TINY["artificial"]
        | {"params": {"demand": {"W": 900, "E": 700, "N1": 400, "S1": 300}}}
    }
    return write_scenario(tmp_path_factory.mktemp("sc"), data)


@pytest.fixture(scope="module")
def bev(scenario: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("vis") / "bev"
    generate_vision(**_args(scenario, out))
    return out


def _coco(out: Path) -> tuple[list, list]:
    """Images and annotations as COCO's reference library reads the merged file."""
    from pycocotools.coco import COCO

    coco = COCO(str(out / "annotations" / "instances.json"))
    assert coco.dataset["info"]["description"] and coco.getCatIds()
    images = coco.loadImgs(coco.getImgIds())
    anns = coco.loadAnns(coco.getAnnIds())
    # the merged file holds exactly what the chunk parts hold
    parts = [json.loads(p.read_text()) for p in sorted((out / "coco").glob("part-*.json"))]
    assert len(anns) == sum(len(d["annotations"]) for d in parts)
    return images, anns


def test_every_visible_vehicle_has_one_box_matching_its_projection(
    scenario: Path, bev: Path
) -> None:
    """Recompute every box from the simulated positions with an independent projection."""
    spec, params, plan, _ = scenario_world(scenario)
    topo = spec.topology()
    junction = next(d["pos"] for _, d in topo.graph.nodes(data=True) if d["kind"] == "junction")
    frames = pd.concat(pd.read_parquet(p) for p in sorted((bev / "frames").glob("*.parquet")))
    images, anns = _coco(bev)
    by_frame: dict[int, dict[int, list[float]]] = {}
    for a in anns:
        assert a["track_id"] not in by_frame.setdefault(a["image_id"], {}), (
            "two boxes for one vehicle"
        )
        by_frame[a["image_id"]][a["track_id"]] = a["bbox"]
    checked = 0
    for c in range(2):
        sim_seed, _ = np.random.SeedSequence(3, spawn_key=(c,)).spawn(2)
        tl = Timeline(simulate_driving(spec, params, plan, sim_seed, f"chunk{c}", topo), topo)
        for _, row in frames[frames["run"] == f"chunk{c}"].iterrows():
            v = tl.at(row["time_s"])
            th = math.radians(row["rot_deg"])
            expected = {}
            for k in range(len(v)):
                length, width, _ = SIZES[CLASSES[v.cls[k]]]
                c_, s_ = math.cos(v.heading[k]), math.sin(v.heading[k])
                xs, ys = [], []
                for sl, sw in ((1, 1), (1, -1), (-1, -1), (-1, 1)):
                    wx = v.x[k] + c_ * sl * length / 2 - s_ * sw * width / 2 - junction[0]
                    wy = v.y[k] + s_ * sl * length / 2 + c_ * sw * width / 2 - junction[1]
                    k_ = SIZE / EXTENT_M
                    xs.append(
                        (math.cos(th) * wx - math.sin(th) * wy) * k_ + SIZE / 2 + row["shift_x_px"]
                    )
                    ys.append(
                        SIZE / 2 - (math.sin(th) * wx + math.cos(th) * wy) * k_ + row["shift_y_px"]
                    )
                x0, x1 = np.clip([min(xs), max(xs)], 0, SIZE)
                y0, y1 = np.clip([min(ys), max(ys)], 0, SIZE)
                if (x1 - x0) * (y1 - y0) >= 1.0:
                    expected[int(v.track[k])] = [x0, y0, x1 - x0, y1 - y0]
            got = by_frame.get(int(row["frame"]), {})
            assert set(got) == set(expected), f"frame {row['frame']}: visible vehicles differ"
            for track, box in expected.items():
                assert np.allclose(got[track], box, atol=1.0), (got[track], box)
            assert row["visible"] == len(expected)
            checked += len(expected)
    assert checked > 100  # the check saw plenty of vehicles
    assert len(images) == 40


@pytest.mark.parametrize("view", ["bev", "camera"])
def test_masks_show_a_vehicle_inside_every_box(scenario: Path, tmp_path: Path, view: str) -> None:
    out = tmp_path / view
    generate_vision(**_args(scenario, out, view=view, frames=20, randomize=["all"]))
    images, anns = _coco(out)
    assert len(images) == 20 and anns
    vehicle_classes = {3, 4, 5}
    for a in anns:
        x, y, w, h = a["bbox"]
        if w * h < 4:
            continue
        mask = np.asarray(Image.open(out / f"masks/{a['image_id']:06d}.png"))
        crop = mask[int(y) : int(math.ceil(y + h)), int(x) : int(math.ceil(x + w))]
        assert vehicle_classes & set(np.unique(crop).tolist()), a
    img = Image.open(out / images[0]["file_name"])
    assert img.size == (SIZE, SIZE) and img.mode == "RGB"
    frames = pd.read_parquet(out / "frames" / "part-00000.parquet")
    assert {"brightness", "noise_sd", "blur_radius", "fog_patches", "rot_deg", "n_car"} <= set(
        frames.columns
    )
    assert frames["brightness"].nunique() > 1  # randomised per frame, and recorded


def test_rerun_resumes_and_refuses_another_dataset(
    scenario: Path, bev: Path, tmp_path: Path
) -> None:
    before = json.loads((bev / "manifest.json").read_text())
    again = generate_vision(**_args(scenario, bev))
    assert again["chunks"] == before["chunks"] and again["complete"]
    with pytest.raises(DatasetMismatchError, match="seed: 3 -> 4"):
        generate_vision(**_args(scenario, bev, seed=4))
    with pytest.raises(UserInputError, match="frames=0"):
        generate_vision(**_args(scenario, tmp_path / "z", frames=0))
    with pytest.raises(UserInputError, match="unknown; choose from"):
        generate_vision(**_args(scenario, tmp_path / "z", randomize=["sunshine"]))
    res = run_cli(
        "generate",
        "vision",
        "--from",
        str(tmp_path / "nope.yaml"),
        "--frames",
        "5",
        "--out",
        str(tmp_path / "q"),
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr
