"""Callback tests train tiny synthetic models: one intra-op thread (the shared CI box has 2 cores)."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield
