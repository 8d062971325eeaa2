"""Classical augmentation (the free baseline) and the utility arms of `evaluate vision`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from sklearn.datasets import load_digits

from parallel.vision.augment import augment, elastic, random_affine
from parallel.vision.utility import arms, utility
from tests.conftest import run_cli


def _digits(
    classes: tuple[int, ...], per: int, offset: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Real 8x8 digits at 32 px in [-1, 1], as `read_image_folder` gives them."""
    d = load_digits()
    idx = np.concatenate([np.flatnonzero(d.target == c)[offset : offset + per] for c in classes])
    x = torch.tensor(d.images[idx] / 16.0, dtype=torch.float32).unsqueeze(1)
    x = (F.interpolate(x, size=32, mode="bilinear", align_corners=False) * 2 - 1).clamp(-1, 1)
    y = torch.tensor([classes.index(int(c)) for c in d.target[idx]])
    return x, y


def test_augment_is_seeded_keeps_labels_and_makes_new_images() -> None:
    x, y = _digits((0, 1, 7), 4)
    a, ya = augment(x, y, 24, seed=3)
    b, _ = augment(x, y, 24, seed=3)
    c, _ = augment(x, y, 24, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == (24, 1, 32, 32) and float(a.min()) >= -1 and float(a.max()) <= 1
    # every real image is used twice (24 = 2 x 12), so each class twice its count
    assert torch.equal(torch.bincount(ya), 2 * torch.bincount(y))
    # none of them is a copy of a real image, yet each stays nearest a real image of its class
    dist = torch.cdist(a.flatten(1), x.flatten(1))
    assert float(dist.min()) > 1.0
    assert float((y[dist.argmin(dim=1)] == ya).float().mean()) >= 0.9


def test_transforms_at_zero_strength_are_the_identity_and_keep_the_background() -> None:
    x, _ = _digits((3,), 3)
    g = torch.Generator().manual_seed(0)
    same = random_affine(x, g, rotate_deg=0.0, scale=0.0, shift=0.0)
    assert torch.allclose(same, x, atol=1e-5)
    assert torch.allclose(elastic(x, g, alpha=0.0), x, atol=1e-5)
    blank = -torch.ones(2, 1, 32, 32)
    assert torch.allclose(random_affine(blank, g), blank) and torch.allclose(
        elastic(blank, g), blank
    )
    # a shift moves the ink: the centre of mass follows it
    moved = random_affine(x, g, rotate_deg=0.0, scale=0.0, shift=0.2)
    cols = torch.arange(32.0)

    def centre(z: torch.Tensor) -> torch.Tensor:
        w = (z + 1).sum(dim=2).squeeze(1)
        return (w * cols).sum(dim=1) / w.sum(dim=1)

    assert float((centre(moved) - centre(x)).abs().max()) > 1.0


def test_arms_have_the_sizes_their_ratios_name() -> None:
    x, y = _digits((0, 1), 5)
    xs, ys = _digits((0, 1), 20, offset=10)
    a = arms(x, y, xs, ys, [1.0, 2.5], seed=0)
    assert set(a) == {
        "real_only", "synthetic_only",
        *(f"{k} x{r}" for k in ("real+synthetic", "augment", "noise") for r in ("1", "2.5")),
    }  # fmt: skip
    assert len(a["real_only"][0]) == 10 and len(a["augment x2.5"][0]) == 35
    assert len(a["real+synthetic x1"][0]) == 20 and len(a["synthetic_only"][0]) == 25
    assert torch.equal(a["noise x1"][0][:10], x)


def test_wrong_labels_hurt_and_right_ones_do_not() -> None:
    """The harness can tell a useful synthetic set from a harmful one."""
    classes = (1, 7, 9)
    x, y = _digits(classes, 4)
    xs, ys = _digits(classes, 40, offset=20)
    xt, yt = _digits(classes, 60, offset=100)
    kw = dict(xr=x, yr=y, xt=xt, yt=yt, classes=3, ratios=[4.0], steps=40)
    good = utility(xs=xs, ys=ys, **kw)
    bad = utility(xs=xs, ys=(ys + 1) % 3, **kw)
    acc = lambda m, arm: m[arm]["logistic:accuracy"]["mean"]  # noqa: E731
    assert acc(bad, "real_only") == acc(good, "real_only")
    assert acc(bad, "real+synthetic x4") < acc(bad, "real_only") - 0.2
    assert acc(good, "real+synthetic x4") > acc(bad, "real+synthetic x4") + 0.4
    assert acc(good, "synthetic_only") > 0.8 and acc(bad, "synthetic_only") < 0.2
    assert all(0.0 <= v["mean"] <= 1.0 for arm in good.values() for v in arm.values())


def _folder(root: Path, classes: tuple[int, ...], per: int, offset: int) -> Path:
    d = load_digits()
    for c in classes:
        (root / str(c)).mkdir(parents=True)
        for i in np.flatnonzero(d.target == c)[offset : offset + per]:
            Image.fromarray((d.images[i] * 16).astype(np.uint8)).save(root / str(c) / f"{i}.png")
    return root


def test_evaluate_vision_cli_reports_every_baseline(tmp_path: Path) -> None:
    train = _folder(tmp_path / "train", (0, 1), 4, 0)
    held = _folder(tmp_path / "held", (0, 1), 20, 50)
    syn = _folder(tmp_path / "syn", (0, 1), 10, 10)
    args = ["evaluate", "vision", "--real", str(held), "--synthetic", str(syn),
            "--train", str(train), "--classifier-steps", "15"]  # fmt: skip
    res = run_cli(*args, "--out", str(tmp_path / "e"), "--ratios", "1", "--seeds", "2")
    assert res.returncode == 0, res.stderr
    m = json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert m["ratios"] == [1.0] and m["seeds"] == 2
    assert set(m["utility"]) == {
        "real_only", "real+synthetic x1", "augment x1", "noise x1", "synthetic_only"
    }  # fmt: skip
    # two seeds give a standard error
    assert all(np.isfinite(m["utility"]["augment x1"][k]["se"]) for k in m["utility"]["augment x1"])
    html = (tmp_path / "e" / "report.html").read_text()
    assert "Utility against every baseline" in html and "augment x1" in html
    assert "augment x1" in res.stdout
    res = run_cli(*args, "--out", str(tmp_path / "e2"), "--ratios", "0")
    assert res.returncode == 2 and "--ratios" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "e2").exists()


@pytest.mark.parametrize("n", [1, 5])
def test_augment_makes_exactly_n(n: int) -> None:
    x, y = _digits((2, 5), 3)
    a, ya = augment(x, y, n, seed=0)
    assert len(a) == n == len(ya)


def test_a_fit_asked_for_twice_is_trained_once() -> None:
    from parallel.vision.classifier import HeldOut

    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(24, 1, 32, 32, generator=g) * 2 - 1, torch.arange(24) % 3
    held = HeldOut(x[:12], y[:12])
    first = held.accuracy(x[12:], y[12:], 3, seed=1, steps=5)
    assert held.accuracy(x[12:].clone(), y[12:].clone(), 3, seed=1, steps=5) == first
    assert held.fits == 1  # the same images, seed and steps: the same fit
    held.accuracy(x[12:], y[12:], 3, seed=2, steps=5)
    held.accuracy(x[:12], y[:12], 3, seed=1, steps=5)
    assert held.fits == 3
