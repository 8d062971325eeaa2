"""The small CNN that `evaluate vision` trains: the judge's feature net and the utility
classifier. One definition, so that fidelity features and utility scores come from the same
architecture."""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from torch import Tensor, nn


class SmallCNN(nn.Module):
    """(B, C, 32, 32) -> logits (B, K); ``features`` gives the 64-d penultimate layer."""

    def __init__(self, channels: int, classes: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 8 * 8, 64),
            nn.ReLU(),
        )
        self.head = nn.Linear(64, classes)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


def train_classifier(x: Tensor, y: Tensor, classes: int, seed: int, steps: int = 600) -> SmallCNN:
    """Adam on mini-batches of 64 with flips off (digits are not mirror-symmetric)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    net = SmallCNN(x.shape[1], classes)
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    for _ in range(steps):
        idx = torch.randint(len(x), (min(64, len(x)),), generator=g)
        loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


@torch.no_grad()
def accuracy(net: SmallCNN, x: Tensor, y: Tensor) -> float:
    return float((net(x).argmax(dim=1) == y).float().mean())


@torch.no_grad()
def features(net: SmallCNN, x: Tensor) -> np.ndarray:
    return torch.cat([net.features(b) for b in x.split(512)]).numpy().astype(np.float64)


class HeldOut:
    """Held-out accuracy of the small CNN per training set, each fit trained once.

    One ``evaluate vision`` asks for the same fit in several places: the small real set
    alone is the TSTR block's baseline, the utility's first real-only arm and the
    augmentation curve's full-size row. A fit is deterministic in its training images,
    seed and steps, so those are the key.
    """

    def __init__(self, x: Tensor, y: Tensor) -> None:
        self.x, self.y = x, y
        self._seen: dict[tuple[str, int, int, int], float] = {}

    def accuracy(self, x: Tensor, y: Tensor, classes: int, seed: int, steps: int) -> float:
        h = hashlib.blake2b(x.numpy().tobytes(), digest_size=16)
        h.update(y.numpy().tobytes())
        key = (h.hexdigest(), classes, seed, steps)
        if key not in self._seen:
            self._seen[key] = accuracy(train_classifier(x, y, classes, seed, steps), self.x, self.y)
        return self._seen[key]

    @property
    def fits(self) -> int:
        """How many classifiers were trained."""
        return len(self._seen)
