"""Fixtures every test folder may opt into (this file is loaded for each ``pytest tests/<name>`` run).

Nothing here is autouse: a folder opts in from its own conftest, so folders that train larger models
keep torch's default threading.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread for the test, restored after: on the shared 2-core CI box two contended threads
    are up to 10x slower than one for tiny models (and on an idle box one thread costs them little)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
