"""These tests train tiny models: run each on one torch thread (the fixture is in tests/conftest.py)."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """Opts every test in this folder into ``one_torch_thread``."""
