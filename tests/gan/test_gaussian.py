"""The class-conditional Gaussian image generator (`parallel train IMAGES_DIR --model
gaussian`): its spread is Ledoit-Wolf's, its images follow their class, and the CLI path
from a folder to a dataset. Its kernel estimate (`--model kernel`): draws around the real
images of their own class, with the pen width moved."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from sklearn.covariance import LedoitWolf

from parallel.gan.gaussian import GaussianDraw, fit_gaussian_images, pen_width
from parallel.gan.images import ImageSampler, fit_gaussian
from tests.conftest import run_cli
from tests.gan.test_images import _folder


def test_the_draws_have_the_ledoit_wolf_covariance(tmp_path: Path) -> None:
    """Drawn without forming the covariance, the spread is still (1 - delta) S + delta mu I,
    around each class's own mean."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(40, 1, 2, 2, generator=g) * 0.5 - 0.25
    x[:, 0, 0, 0] += torch.rand(40, generator=g)  # one pixel spreads more than the rest
    y = torch.arange(40) % 2
    x[y == 1] += 0.5  # the second class is brighter
    fit = fit_gaussian_images(x, y, tmp_path, {"classes": ["a", "b"], "channels": 1, "size": 2})
    flat = x.flatten(1).numpy().astype(np.float64)
    means = np.stack([flat[y.numpy() == c].mean(0) for c in (0, 1)])
    resid = flat - means[y.numpy()]
    want = LedoitWolf(assume_centered=True).fit(resid)
    assert abs(fit["shrinkage"] - want.shrinkage_) < 1e-9
    draw = GaussianDraw(tmp_path, (1, 2, 2))
    for c in (0, 1):
        z = draw.gaussian(c, 200_000, torch.Generator().manual_seed(c)).double().numpy()
        assert np.abs(z.mean(0) - means[c]).max() < 0.01
        cov = np.cov(z, rowvar=False, bias=True)
        assert np.abs(cov - want.covariance_).max() < 0.01 * np.abs(want.covariance_).max() + 1e-4


def test_images_follow_their_class_and_the_seed(tmp_path: Path) -> None:
    meta = fit_gaussian(_folder(tmp_path / "f", per=8), tmp_path / "g", size=32)
    assert meta["classes"] == ["class0", "class1", "class2"] and 0 < meta["fit"]["shrinkage"] <= 1
    sampler = ImageSampler(tmp_path / "g")
    assert sampler.weights.name == "gaussian.npz"
    ims = [sampler.sample(c, 40, torch.Generator().manual_seed(1)) for c in range(3)]
    assert all(a.shape == (40, 32, 32) and a.dtype == np.uint8 for a in ims)
    # the folders' classes are 40, 100 and 160 grey (plus noise): so are the images' centres
    centre = [float(a[:, 8:24, 8:24].mean()) for a in ims]
    assert centre[0] < centre[1] < centre[2], centre
    assert abs(centre[1] - 110) < 25
    assert len({a.tobytes() for a in ims[0]}) == 40  # every image its own
    again = sampler.sample(0, 40, torch.Generator().manual_seed(1))
    other = sampler.sample(0, 40, torch.Generator().manual_seed(2))
    assert np.array_equal(ims[0], again) and not np.array_equal(ims[0], other)


def test_train_gaussian_and_generate_from_the_cli(tmp_path: Path) -> None:
    src = _folder(tmp_path / "f")
    res = run_cli("train", str(src), "--model", "gaussian", "--out", "g", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "fitted the Gaussian image generator on 18 images of 3 classes" in res.stdout
    assert json.loads((tmp_path / "g" / "images.json").read_text())["model"] == "gaussian"
    res = run_cli(
        "generate", "images", "--from", "g", "--per-class", "5", "--out", "ds",
        "--format", "imagefolder", cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in (tmp_path / "ds" / "class2").iterdir()) == [
        f"{i:06d}.png" for i in range(5)
    ]
    # refused before anything is written: a table, an option it has not, a used folder
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    for args, says in (
        (["t.csv", "--out", "g2"], "--model gaussian takes an image folder"),
        (["f", "--resume", "--out", "g3"], "--resume: not an option of --model gaussian"),
        (["f", "--out", "g"], "already holds a generator"),
    ):
        res = run_cli("train", *args, "--model", "gaussian", cwd=tmp_path)
        assert res.returncode == 2 and says in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "g2").exists() and not (tmp_path / "g3").exists()


def test_pen_width_thickens_or_thins_strokes_and_keeps_the_range() -> None:
    x = torch.full((400, 1, 9, 9), -1.0)
    x[:, :, 4, 2:7] = 1.0  # a horizontal stroke one pixel wide
    out = pen_width(x, torch.Generator().manual_seed(0))
    ink = (out + 1).sum(dim=(1, 2, 3)) / (x + 1).sum(dim=(1, 2, 3))
    assert out.min() >= -1 and out.max() <= 1
    thicker, thinner = ink > 1.05, ink < 0.95
    # about half of the strokes thicken (up to 3 rows, 7 columns) and half thin
    assert 150 < int(thicker.sum()) < 250 and 150 < int(thinner.sum()) < 250
    assert float(ink.max()) <= 21 / 5 + 1e-5 and float(ink.min()) >= 0


def test_kernel_draws_stay_near_their_own_class_images(tmp_path: Path) -> None:
    """Each class of the folder has its own grey level; a kernel draw starts from a real
    image of its class, so its centre keeps that level, and the fit kept every image."""
    meta = fit_gaussian(_folder(tmp_path / "f", per=8), tmp_path / "k", size=32, model="kernel")
    assert json.loads((tmp_path / "k" / "images.json").read_text())["model"] == "kernel"
    sampler = ImageSampler(tmp_path / "k")
    assert sampler.gaussian is not None and sampler.gaussian.images is not None
    assert len(sampler.gaussian.images) == meta["images"] == 24
    ims = [sampler.sample(c, 30, torch.Generator().manual_seed(3)) for c in range(3)]
    centre = [float(np.median(a[:, 12:20, 12:20])) for a in ims]
    assert centre[0] < centre[1] < centre[2], centre
    assert abs(centre[1] - 100) < 30
    again = sampler.sample(1, 30, torch.Generator().manual_seed(3))
    assert np.array_equal(ims[1], again)
    assert sampler.sample(1, 0, torch.Generator()).shape == (0, 32, 32)
    # the same folder as a Gaussian keeps no images: its draws are the class mean's
    fit_gaussian(tmp_path / "f", tmp_path / "g", size=32)
    assert ImageSampler(tmp_path / "g").gaussian.images is None  # type: ignore[union-attr]


def test_train_kernel_from_the_cli(tmp_path: Path) -> None:
    src = _folder(tmp_path / "f")
    res = run_cli("train", str(src), "--model", "kernel", "--out", "k", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "fitted the kernel image generator on 18 images of 3 classes" in res.stdout
    res = run_cli("train", "f", "--model", "kernel", "--resume", "--out", "k2", cwd=tmp_path)
    assert res.returncode == 2 and "--resume: not an option of --model kernel" in res.stderr
    assert not (tmp_path / "k2").exists()
