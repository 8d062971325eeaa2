"""The small CNN that `evaluate vision` trains: the judge's feature net and the utility
classifier. One definition, so that fidelity features and utility scores come from the same
architecture."""

from __future__ import annotations

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
