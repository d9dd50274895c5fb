"""Kernel-only data for the deploy tests: points "x y" (strings) in three labelled clusters, with a
train-only random jitter (so TTA has something to augment), and a fake plugin providing their reader."""
from __future__ import annotations

import torch
from torch import nn

from torchloom import Categorize, DataLoaders, Datasets, Learner, TensorBase, Transform, accuracy

CENTERS = {"cat": (3.0, 0.0), "dog": (-3.0, 0.0), "eel": (0.0, 3.0)}
NAMES = ["cat", "dog", "eel"] * 50


class TensorPt(TensorBase):
    """A 2-d point."""


class ParsePoint(Transform):
    """``"x y"`` -> ``TensorPt``."""

    def encodes(self, o: str) -> TensorPt:
        return TensorPt(torch.tensor([float(v) for v in o.split()]))


class Jitter(Transform):
    """Train-only noise on the points of a batch."""

    split_idx = 0

    def encodes(self, x: TensorPt) -> TensorPt:
        return x + torch.randn_like(x) * 0.8


def items(seed: int = 0) -> list[str]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for n in NAMES:
        p = torch.tensor(CENTERS[n]) + torch.randn(2, generator=g) * 1.2
        out.append(f"{p[0].item():.4f} {p[1].item():.4f}")
    return out


def make_learner(jitter: bool = True, epochs: int = 4) -> Learner:
    xs = items()
    label = dict(zip(xs, NAMES))
    dsets = Datasets(xs, [[ParsePoint()], [label.__getitem__, Categorize()]],
                     splits=(list(range(105)), list(range(105, 150))))
    dls = DataLoaders.from_dsets(dsets.train, dsets.valid, bs=16, seed=0,
                                 after_batch=[Jitter()] if jitter else None)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))
    learn = Learner(dls, model, metrics=accuracy, progress=False)
    learn.logger = lambda *a, **k: None
    learn.fit(epochs, lr=0.03)
    return learn


READER_PLUGIN = """
import torchloom
PLUGIN_API = 1

@torchloom.hookimpl
def register_transforms(register):
    register("points_reader", "{pkg}.reader:PointsReader", reader=True, doc="'x y' strings -> float32 points")
"""

READER = """
import numpy as np


class PointsReader:
    extensions = ()
    paths = False

    @classmethod
    def describe(cls, dls):
        tfms = dls.valid.dataset.tls[0].tfms.fs
        return {"sep": " "} if any(type(t).__name__ == "ParsePoint" for t in tfms) else None

    def __init__(self, preprocess):
        self.sep = preprocess["sep"]

    def __call__(self, item):
        return np.array([float(v) for v in item.split(self.sep)], dtype=np.float32)
"""
