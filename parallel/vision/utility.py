"""Do synthetic images help a classifier? Every baseline in one run.

The image twin of :mod:`parallel.data.utility`. Two classifiers, each trained on every
arm and scored on held-out real images:

* ``cnn``: the small CNN of :mod:`parallel.vision.evaluate`;
* ``logistic``: scikit-learn's logistic regression on the standardised pixels, a model
  whose answer does not depend on a training schedule.

The arms, for every ratio R (added images as a multiple of the small real set):

* ``real_only``: the small real set alone;
* ``real+synthetic xR``: the real set plus R times as many synthetic images, drawn
  without replacement where the synthetic set is large enough, so as many per class as
  the synthetic set holds in proportion;
* ``augment xR``: the real set plus as many classical augmentations of it (random affine
  and elastic, :mod:`parallel.vision.augment`), the free baseline of the same size;
* ``noise xR``: the real set plus noisy copies of it (Gaussian noise of 0.1 on [-1, 1]),
  the trivial baseline;
* ``synthetic_only``: as many synthetic images as the largest ratio adds (TSTR).

With ``seeds`` above 1 every arm is drawn and trained again per seed; the result is the
mean and standard error of accuracy over seeds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from parallel.data.utility import summarise
from parallel.vision.augment import augment
from parallel.vision.classifier import HeldOut

CLASSIFIERS = ("cnn", "logistic")

Arm = tuple[Tensor, Tensor]


def _logistic(x: Tensor, y: Tensor, xt: Tensor, yt: Tensor) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(torch.unique(y)) < 2:  # one class: nothing to learn
        return float((yt == y[0]).float().mean())
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(x.flatten(1).numpy(), y.numpy())
    return float(np.mean(model.predict(xt.flatten(1).numpy()) == yt.numpy()))


def score(
    x: Tensor, y: Tensor, held: HeldOut, classes: int, seed: int, steps: int
) -> dict[str, float]:
    """Held-out accuracy of each classifier trained on ``(x, y)``."""
    return {
        "cnn:accuracy": held.accuracy(x, y, classes, seed, steps),
        "logistic:accuracy": _logistic(x, y, held.x, held.y),
    }


def _draw(x: Tensor, y: Tensor, m: int, g: torch.Generator) -> Arm:
    idx = torch.randperm(len(x), generator=g)[:m] if m <= len(x) else (
        torch.randint(len(x), (m,), generator=g)
    )  # fmt: skip
    return x[idx], y[idx]


def arms(
    xr: Tensor, yr: Tensor, xs: Tensor, ys: Tensor, ratios: list[float], seed: int
) -> dict[str, Arm]:
    """The training set of every arm for one seed."""
    g = torch.Generator().manual_seed(seed)
    out: dict[str, Arm] = {"real_only": (xr, yr)}

    def plus(extra: Arm) -> Arm:
        return torch.cat([xr, extra[0]]), torch.cat([yr, extra[1]])

    for r in ratios:
        m = max(1, int(round(r * len(xr))))
        out[f"real+synthetic x{r:g}"] = plus(_draw(xs, ys, m, g))
        out[f"augment x{r:g}"] = plus(augment(xr, yr, m, seed))
        copies = _draw(xr, yr, m, g)
        noisy = (copies[0] + 0.1 * torch.randn(copies[0].shape, generator=g)).clamp(-1, 1)
        out[f"noise x{r:g}"] = plus((noisy, copies[1]))
    out["synthetic_only"] = _draw(xs, ys, max(1, int(round(max(ratios) * len(xr)))), g)
    return out


def utility(
    *,
    xr: Tensor,
    yr: Tensor,
    xs: Tensor,
    ys: Tensor,
    xt: Tensor,
    yt: Tensor,
    classes: int,
    ratios: list[float],
    seeds: int = 1,
    steps: int = 600,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    held: HeldOut | None = None,
) -> dict[str, Any]:
    """Every arm's held-out accuracy per classifier: ``{arm: {"cnn:accuracy": {mean, se}}}``.

    ``(xr, yr)`` is the small real set, ``(xs, ys)`` the synthetic set, ``(xt, yt)`` the
    held-out real images scored on; ``held`` the CNN fits on them that the caller has
    already made (a fresh :class:`HeldOut` on ``(xt, yt)`` by default).
    """
    if held is None:
        held = HeldOut(xt, yt)
    elif held.x is not xt or held.y is not yt:
        raise ValueError("held must score on the same held-out images as xt, yt")
    runs: list[dict[str, dict[str, float]]] = []
    total = seeds * (2 + 3 * len(ratios))
    done = 0
    for s in range(seeds):
        scores = {}
        for name, (x, y) in arms(xr, yr, xs, ys, ratios, seed + s).items():
            scores[name] = score(x, y, held, classes, seed + s + 1, steps)
            done += 1
            if progress:
                progress(done, total)
        runs.append(scores)
    return summarise(runs)
