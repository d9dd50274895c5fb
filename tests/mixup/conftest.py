"""Run these tests' tiny models on one thread: on the shared 2-core CI box two contended threads are
up to 10x slower than one (and on an idle box one thread costs little for models this small)."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
