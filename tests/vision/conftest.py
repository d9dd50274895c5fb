"""Shared fixtures for the vision tests (matplotlib, when used, renders off-screen with Agg)."""
from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread per test (restored after): on the shared 2-core CI machine, two threads per
    process oversubscribe the cores and small conv/grid ops run up to 100x slower."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def aug_learner():
    """A SmallResNet trained 3 epochs on the bundled sample with batch augmentation (flip, rotate, zoom,
    lighting): shared by the TTA, export and predict tests. About 15 s on one thread."""
    import random

    from torchloom_vision import (
        ImageDataLoaders,
        PILImageBW,
        SmallResNet,
        aug_transforms,
        fashion_sample_path,
        vision_learner,
    )

    from torchloom import accuracy

    torch.manual_seed(0)
    random.seed(0)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        dls = ImageDataLoaders.from_folder(fashion_sample_path(), img_cls=PILImageBW, bs=32, seed=0,
                                           batch_tfms=aug_transforms(max_warp=0, p_lighting=0.5))
        learn = vision_learner(dls, SmallResNet, metrics=accuracy, progress=False)
        learn.logger = lambda *a, **k: None
        learn.fit_one_cycle(3, 1e-2)
    finally:
        torch.set_num_threads(n)
    return learn


@pytest.fixture
def closed_port():
    """A local TCP port nothing listens on: connecting to it is refused at once (an offline machine)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return port
