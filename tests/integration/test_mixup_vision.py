"""MixUp on the vision plugin's bundled Fashion-MNIST sample trains about as well as without it.

Data: ``torchloom_vision.fashion_sample_path()`` (1,000 train / 300 valid 28x28 grey PNGs, 10 classes)
through ``ImageDataLoaders.from_folder`` (typed ``TensorImageBW`` batches); model: a 3-layer CNN with
batch norm; ``fit_one_cycle(8, 2e-2)``, bs 64, same seed for both runs. MixUp regularises, so it
learns a little slower in a short run. Measured here (2 shared CPU cores, 20-45 s for both runs):
0.767 accuracy without MixUp, 0.747-0.750 with it (two runs); the test allows MixUp to be up to 10 points below.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from torchloom import CrossEntropyLossFlat, Learner, accuracy

vision = pytest.importorskip("torchloom_vision")
pytest.importorskip("torchloom_mixup")

MARGIN = 0.10


def small_cnn() -> nn.Module:
    def block(ni, nf):
        return [nn.Conv2d(ni, nf, 3, stride=2, padding=1), nn.BatchNorm2d(nf), nn.ReLU()]

    return nn.Sequential(*block(1, 16), *block(16, 32), *block(32, 64), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(64, 10))


def run(dls, use):
    torch.manual_seed(0)
    learn = Learner(dls, small_cnn(), loss_func=CrossEntropyLossFlat(), metrics=accuracy, progress=False, use=use)
    base = learn.loss_func
    with learn.no_logging():
        learn.fit_one_cycle(8, 2e-2)
    assert learn.loss_func is base
    return learn.validate()[1], learn


@pytest.mark.slow
def test_mixup_accuracy_within_margin_of_plain_training(one_torch_thread):
    dls = vision.ImageDataLoaders.from_folder(vision.fashion_sample_path(), img_cls="PILImageBW", bs=64)
    plain, _ = run(dls, None)
    mixed, learn = run(dls, ["mixup"])
    print(f"accuracy without MixUp {plain:.3f}, with MixUp {mixed:.3f}")
    assert plain > 0.5, f"the plain run itself did not learn (accuracy {plain:.3f})"
    assert mixed >= plain - MARGIN, f"MixUp {mixed:.3f} vs plain {plain:.3f} (margin {MARGIN})"
    assert learn.plugins_used["mixup"]["dist"] == "torchloom-mixup"
    preds, targs = learn.get_preds()                         # inference sees the plain loss and data
    assert preds.shape == (300, 10) and torch.allclose(preds.sum(1), torch.ones(300))
