"""Shared fixtures for the GAN tests: small real Fashion-MNIST GAN data, tiny models, the quality scorer.

Every test runs on one torch thread (the shared CI box has two cores and many processes).
"""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """Opts every test in this folder into ``one_torch_thread``."""


@pytest.fixture
def tiny_dls():
    """256 real Fashion-MNIST images padded to 32x32, batches of 32, seeded."""
    from torchloom_gan import fashion_gan_dls

    return fashion_gan_dls(bs=32, n_train=256, n_valid=64, seed=0)


@pytest.fixture(scope="session")
def scorer():
    """The quality scorer (trains and caches the classifier the first time: a few CPU minutes)."""
    from torchloom_gan import QualityScorer

    return QualityScorer()
