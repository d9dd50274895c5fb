"""Interpretation and summary tests train tiny synthetic models: one intra-op thread (2-core CI box)."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield
