"""Shared fixtures for the collab tests: MovieLens ml-latest-small and one trained dot-product model."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="session")
def ratings():
    import torchloom

    return torchloom.load_dataset("movielens")


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Small models on a shared 2-core machine: one intra-op thread is much faster than two contended ones."""
    yield


@pytest.fixture(scope="module")
def dot_learner(ratings):
    """EmbeddingDotBias, 50 factors, y_range (0, 5.5), 3 epochs of one-cycle on 80 % of the ratings."""
    from torchloom_collab import CollabDataLoaders, collab_learner

    from torchloom import rmse

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    dls = CollabDataLoaders.from_df(ratings[["userId", "title", "rating"]], item_name="title", bs=64, seed=42,
                                    device="cpu")
    learn = collab_learner(dls, n_factors=50, y_range=(0, 5.5), metrics=rmse, progress=False)
    learn.logger = lambda *a: None
    learn.fit_one_cycle(3, 5e-3, wd=0.1)
    torch.set_num_threads(n)
    return learn
