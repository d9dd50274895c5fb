"""Helpers for the Learner tests: a two-train-batch / one-valid-batch learner (the fake plugin ``site``
fixture comes from tests/kernel/conftest.py)."""
from __future__ import annotations

import torch

from torchloom.testing import EventRecorder, synth_learner

# Tiny models on a shared 2-core machine: one intra-op thread avoids oversubscription (20x faster here).
torch.set_num_threads(1)


def tiny(**kwargs):
    """2 training batches and 1 validation batch (the sequence fastai.md §4.1 documents)."""
    kwargs.setdefault("n_train", 32)
    kwargs.setdefault("n_valid", 16)
    kwargs.setdefault("bs", 16)
    return synth_learner(**kwargs)


def recorded(learn, **kwargs) -> EventRecorder:
    rec = EventRecorder(**kwargs)
    learn.add_cb(rec)
    return rec


BATCH_TRAIN = ["before_batch", "after_pred", "after_loss", "before_backward", "after_backward", "before_step",
               "after_step", "after_batch"]
BATCH_VALID = ["before_batch", "after_pred", "after_loss", "after_batch"]
