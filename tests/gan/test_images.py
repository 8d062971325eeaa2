"""The class-conditional image GAN: ImageFolder checks, DiffAugment, training and
`parallel generate images`."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from parallel.core.errors import DataError
from parallel.gan.augment import diff_augment
from parallel.gan.images import read_image_folder
from tests.conftest import run_cli


def _folder(root: Path, classes: int = 3, per: int = 6, size: tuple[int, int] = (16, 16)) -> Path:
    rng = np.random.default_rng(0)
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(per):
            a = np.full(size, 40 + 60 * c, np.uint8) + rng.integers(0, 20, size, dtype=np.uint8)
            Image.fromarray(a).save(root / f"class{c}" / f"{i}.png")
    return root


def test_folder_is_read_scaled_and_labelled(tmp_path: Path) -> None:
    x, y, classes, notes = read_image_folder(_folder(tmp_path / "f"), 32)
    assert x.shape == (18, 1, 32, 32) and classes == ["class0", "class1", "class2"]
    assert float(x.min()) >= -1 and float(x.max()) <= 1
    assert torch.equal(torch.bincount(y), torch.tensor([6, 6, 6]))
    assert notes == ["images of 16x16 were resized to 32x32"]
    # class means follow the pixel values the folders were made with
    means = [float(x[y == k].mean()) for k in range(3)]
    assert means[0] < means[1] < means[2]


def test_bad_folders(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images found"):
        read_image_folder(tmp_path / "empty")
    with pytest.raises(DataError, match="only one class"):
        read_image_folder(_folder(tmp_path / "one", classes=1))
    broken = _folder(tmp_path / "broken")
    (broken / "class1" / "bad.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"1 unreadable image\(s\): class1/bad.png"):
        read_image_folder(broken)
    mixed = _folder(tmp_path / "mixed")
    Image.fromarray(np.zeros((20, 24), np.uint8)).save(mixed / "class2" / "wide.png")
    _, _, _, notes = read_image_folder(mixed, 32)
    assert "mixed sizes" in notes[0] and "16x16 (18)" in notes[0] and "24x20 (1)" in notes[0]
    # an empty class folder is left out with a note, never silently
    (mixed / "class9").mkdir()
    _, _, classes, notes = read_image_folder(mixed, 32)
    assert "class9" not in classes and any("no images were left out: class9" in n for n in notes)
    # a decompression bomb is named, not opened
    bomb = _folder(tmp_path / "bomb")
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(bomb / "class0" / "huge.png")
    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = 100  # a 16x16 image is then more than twice the limit
    try:
        with pytest.raises(DataError, match=r"class0/0.png \(too many pixels"):
            read_image_folder(bomb)
    finally:
        Image.MAX_IMAGE_PIXELS = old


def test_diff_augment_is_seeded_and_differentiable() -> None:
    leaf = torch.rand(4, 3, 16, 16, requires_grad=True)
    x = leaf * 2 - 1
    a = diff_augment(x, torch.Generator().manual_seed(1))
    b = diff_augment(x, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and torch.equal(a, b)
    assert not torch.equal(a, diff_augment(x, torch.Generator().manual_seed(2)))
    a.sum().backward()
    assert leaf.grad is not None and torch.isfinite(leaf.grad).all() and leaf.grad.abs().sum() > 0


def test_train_and_generate_images(tmp_path: Path) -> None:
    src = _folder(tmp_path / "f")
    res = run_cli("train", str(src), "--out", str(tmp_path / "g"), "--steps", "8")
    assert res.returncode == 0, res.stderr
    assert "resized to 32x32" in res.stdout
    out = tmp_path / "ds"
    res = run_cli(
        "generate", "images", "--from", str(tmp_path / "g"), "--per-class", "5", "--out", str(out)
    )
    assert res.returncode == 0, res.stderr
    m = json.loads((out / "manifest.json").read_text())
    assert (
        m["rows"] == 15
        and m["complete"]
        and m["source"]["classes"] == ["class0", "class1", "class2"]
    )
    df = pd.read_parquet(out / "data")
    assert df["label"].astype(str).value_counts().to_dict() == {
        "class0": 5,
        "class1": 5,
        "class2": 5,
    }
    im = Image.open(io.BytesIO(df["png"].iloc[0]))
    assert im.size == (32, 32)
    # the same images as a class-per-folder tree, as image-folder loaders read it
    folder = tmp_path / "folder"
    res = run_cli(
        "generate", "images", "--from", str(tmp_path / "g"), "--per-class", "5",
        "--format", "imagefolder", "--out", str(folder),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    for c in ("class0", "class1", "class2"):
        files = sorted((folder / c).glob("*.png"))
        assert [f.name for f in files] == [f"{i:06d}.png" for i in range(5)]
        assert Image.open(files[0]).size == (32, 32)
    assert json.loads((folder / "manifest.json").read_text())["complete"]
    for bad in (tmp_path / "nothing", _folder(tmp_path / "solo", classes=1)):
        res = run_cli("train", str(bad), "--out", str(tmp_path / "x"))
        assert res.returncode == 2 and "Traceback" not in res.stderr
    # resuming with another --size would load nets of the wrong shape: refused first
    res = run_cli(
        "train", str(src), "--out", str(tmp_path / "g"), "--steps", "9", "--resume",
        "--size", "64",
    )  # fmt: skip
    assert res.returncode == 2 and "trained with size 32, now 64" in res.stderr


def test_evaluate_scores_fidelity_and_utility(tmp_path: Path) -> None:
    """A synthetic set equal to held-out real images scores better than pure noise."""
    from parallel.vision.evaluate import evaluate, frechet, precision_recall

    rng = np.random.default_rng(1)
    a = rng.normal(size=(400, 8))
    assert frechet(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet(a, a + 3) > 50
    p, r = precision_recall(a[:200], a[200:])
    assert p > 0.8 and r > 0.8
    p, r = precision_recall(a[:200], a[200:] + 10)
    assert p == 0.0 and r == 0.0
    real = _folder(tmp_path / "real", per=30)
    train = _folder(tmp_path / "train", per=4)
    good = evaluate(
        real,
        _folder(tmp_path / "same", per=30),
        tmp_path / "e1",
        train,
        classifier_steps=60,
        curve=[4, 2],
    )
    noise = tmp_path / "noise"
    for c in range(3):
        (noise / f"class{c}").mkdir(parents=True)
        for i in range(30):
            Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8)).save(
                noise / f"class{c}" / f"{i}.png"
            )
    bad = evaluate(real, noise, tmp_path / "e2", train, classifier_steps=60)
    assert good["synthetic"]["frechet"] < bad["synthetic"]["frechet"]
    assert good["tstr"]["synthetic_only"] > bad["tstr"]["synthetic_only"]
    assert {"small_real_only", "small_real_plus_synthetic"} <= set(good["tstr"])
    assert "noisy_copies_baseline" in good
    html = (tmp_path / "e1" / "report.html").read_text()
    assert "TSTR" in html and "not Inception" in html
    # two sample grids and the augmentation curve's plot
    assert html.count("data:image/png") == 3 and "Augmentation curve" in html
    rows = good["augmentation_curve"]
    assert [r["real_per_class"] for r in rows] == [2, 4]
    assert all(0.0 <= r[k] <= 1.0 for r in rows for k in ("real_only", "real_plus_synthetic"))
    # the largest size uses the whole small set: it is the plain real-only TSTR figure
    assert rows[-1]["real_only"] == good["tstr"]["small_real_only"]
    # and it is trained once: 2 TSTR fits + 8 utility arms (ratios 1 and 4) + 4 curve
    # fits asked for, of which the utility's real-only arm and the curve's full-size row
    # are the TSTR fits again
    assert good["cnn_fits"] == 2 + 8 + 4 - 3


def test_evaluate_curve_bad_sizes(tmp_path: Path) -> None:
    real = _folder(tmp_path / "real", per=6)
    train = _folder(tmp_path / "train", per=4)

    def evaluate_cli(*extra: str) -> subprocess.CompletedProcess[str]:
        return run_cli(
            "evaluate", "vision", "--real", str(real), "--synthetic", str(real),
            "--out", str(tmp_path / "e"), *extra,
        )  # fmt: skip

    res = evaluate_cli("--train", str(train), "--curve", "2", "9")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "--curve 9: sizes must be 1..4" in res.stderr + res.stdout
    res = evaluate_cli("--curve", "2")
    assert res.returncode == 2 and "--curve needs --train" in res.stderr + res.stdout


def test_digits_smoke(tmp_path: Path) -> None:
    """The digits benchmark's path on real images nobody here wrote, at a tiny budget."""
    from sklearn.datasets import load_digits

    from parallel.vision.evaluate import evaluate

    d = load_digits()

    def folder(root: Path, per: int, offset: int) -> Path:
        for c in range(3):
            idx = np.flatnonzero(d.target == c)[offset : offset + per]
            (root / str(c)).mkdir(parents=True)
            for i in idx:
                Image.fromarray((d.images[i] * 16).astype(np.uint8)).save(
                    root / str(c) / f"{i}.png"
                )
        return root

    train = folder(tmp_path / "train", 5, 0)
    held = folder(tmp_path / "held", 40, 100)
    res = run_cli("train", str(train), "--out", str(tmp_path / "g"), "--steps", "6")
    assert res.returncode == 0, res.stderr
    res = run_cli(
        "generate",
        "images",
        "--from",
        str(tmp_path / "g"),
        "--per-class",
        "10",
        "--out",
        str(tmp_path / "s"),
    )
    assert res.returncode == 0, res.stderr
    m = evaluate(held, tmp_path / "s", tmp_path / "e", train, classifier_steps=30)
    assert m["synthetic_images"] == 30 and m["real_heldout"] == 60
    # 60 held-out real digits of 3 classes: the feature net must beat chance on them
    assert m["feature_net_accuracy_on_reference"] > 0.5
    assert all(0.0 <= v <= 1.0 for v in m["tstr"].values())


def test_evaluate_refuses_synthetic_images_missing_a_class_before_any_training(
    tmp_path: Path,
) -> None:
    import time

    real = _folder(tmp_path / "real", classes=3, per=6)
    syn = _folder(tmp_path / "syn", classes=3, per=6)
    for f in (syn / "class2").iterdir():
        f.unlink()
    (syn / "class2").rmdir()
    t0 = time.perf_counter()
    res = run_cli("evaluate", "vision", "--real", str(real), "--synthetic", str(syn),
                  "--out", str(tmp_path / "e"))  # fmt: skip
    assert res.returncode == 2 and "no synthetic images of class(es) class2" in res.stderr
    assert time.perf_counter() - t0 < 30 and not (tmp_path / "e").exists()
