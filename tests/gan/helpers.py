"""Helpers shared by the GAN tests (imported as a plain module: the test folders are not packages)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

needs_fashion = pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(),
                                   reason="needs the Debian package dataset-fashion-mnist (scripts/test installs it)")


def tiny_models(seed: int = 0, nf: int = 8):
    """A DCGAN generator and critic for 1x32x32 images with ``nf`` base features, seeded."""
    from torchloom_gan import basic_critic, basic_generator

    torch.manual_seed(seed)
    return basic_generator(32, 1, n_features=nf), basic_critic(32, 1, n_features=nf)
