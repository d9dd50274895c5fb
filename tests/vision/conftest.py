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
