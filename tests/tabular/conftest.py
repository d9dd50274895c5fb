"""Shared fixtures for the tabular tests: a small mixed-type frame and the real UCI Adult data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def small_df() -> pd.DataFrame:
    """200 rows: a categorical with a missing value, an ordered category, numbers with gaps, a binary target."""
    rng = np.random.default_rng(0)
    n = 200
    color = rng.choice(["red", "green", "blue"], n).astype(object)
    color[5] = None
    size = pd.Categorical(rng.choice(["S", "M", "L"], n), categories=["S", "M", "L"], ordered=True)
    x = rng.normal(10, 2, n)
    x[[3, 7, 150]] = np.nan
    z = rng.integers(0, 100, n).astype(float)
    y = np.where(x > 10, "hi", "lo")
    y[[3, 7, 150]] = "lo"
    return pd.DataFrame({"color": color, "size": size, "x": x, "z": z, "y": y})


@pytest.fixture(scope="session")
def adult():
    import torchloom

    return torchloom.load_dataset("adult")



@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Small models on a shared 2-core machine: one intra-op thread is much faster than two contended ones."""
    yield
