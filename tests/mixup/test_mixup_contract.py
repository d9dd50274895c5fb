"""The kernel's conformance kit for "mixup" and "cutmix"."""
from __future__ import annotations

import torch
from torch import nn

from torchloom import CrossEntropyLossFlat, Learner
from torchloom.testing import CallbackContract, SynthDataLoaders


class TestMixUpClassificationContract(CallbackContract):
    name = "mixup"
    kwargs = {"alpha": 0.4}
    task = "classification"


class TestMixUpRegressionContract(CallbackContract):
    """Float targets: the targets themselves are interpolated."""

    name = "mixup"
    kwargs = {"alpha": 0.2}
    task = "regression"


class TestCutMixContract(CallbackContract):
    name = "cutmix"
    kwargs = {"alpha": 1.0}

    def make_learner(self):
        g = torch.Generator().manual_seed(0)
        x = torch.randn(96, 1, 8, 8, generator=g)
        y = torch.randint(0, 2, (96,), generator=g)
        torch.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                              nn.Linear(4, 2))
        learn = Learner(SynthDataLoaders((x[:64], y[:64]), (x[64:], y[64:]), bs=16), model,
                        loss_func=CrossEntropyLossFlat(), lr=1e-2, progress=False)
        learn.logger = lambda *a, **k: None
        return learn
