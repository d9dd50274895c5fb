"""A small typed user script: what a type checker sees through ``from torchloom import ...``.

``tests/types/test_public_types.py`` runs mypy over it; each ``assert_type`` is an error if a public name
resolved to ``Any`` (as it did when names came only through the module ``__getattr__``).
"""
from __future__ import annotations

from typing import assert_type, reveal_type

import torch
from torch import nn

from torchloom import (
    SGD,
    CrossEntropyLossFlat,
    DataLoaders,
    Learner,
    Optimizer,
    accuracy,
    get_registry,
    load_learner,
)
from torchloom.data import Datasets
from torchloom.testing import synth_learner


def train(dls: DataLoaders) -> Learner:
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    learn = Learner(dls, model, loss_func=CrossEntropyLossFlat(), opt_func=SGD, metrics=accuracy)
    reveal_type(learn)
    assert_type(learn, Learner)
    assert_type(learn.use("progress"), Learner)
    learn.fit(1, lr=0.1)
    return learn


def reload(path: str) -> torch.nn.Module:
    learn = load_learner(path)
    reveal_type(load_learner)
    assert_type(learn, Learner)
    return learn.model


assert_type(SGD([nn.Parameter(torch.zeros(2))], lr=0.1), Optimizer)
assert_type(get_registry().names("callback"), list[str])
assert_type(Datasets, type[Datasets])
assert_type(synth_learner(), Learner)
