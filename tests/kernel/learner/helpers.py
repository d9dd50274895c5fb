"""Helpers for the Learner tests: a two-train-batch / one-valid-batch learner, the batch event
sequences, and a fake plugin distribution (``PLUGIN`` with its ``HEAVY`` module) for the ``site`` fixture."""
from __future__ import annotations

from torchloom.testing import EventRecorder, synth_learner


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

#: a plugin module registering callbacks and an optimizer from its ``heavy`` module
PLUGIN = """
import torchloom
PLUGIN_API = 1

@torchloom.hookimpl
def register_callbacks(register):
    register("sparkle", "{pkg}.heavy:Sparkle", order=7, after=["recorder"], conflicts=["glitter"], doc="sparkles")
    register("glitter", "{pkg}.heavy:Glitter", doc="glitters")
    register("fp_a", "{pkg}.heavy:Glitter", slot="precision")
    register("fp_b", "{pkg}.heavy:Plain", slot="precision")
    register("needy", "{pkg}.heavy:Plain", requires=["sparkle"])

@torchloom.hookimpl
def register_optimizers(register):
    register("sparkle_sgd", "{pkg}.heavy:make_sgd", doc="SGD, sparkly")
"""

HEAVY = """
from torchloom import Callback

class Sparkle(Callback):
    def __init__(self, amount=1.0):
        super().__init__()
        self.amount, self.n = amount, 0

    def before_batch(self):
        self.n += 1

    def state_dict(self):
        return {"n": self.n, "amount": self.amount}

    def load_state_dict(self, s):
        self.n, self.amount = s["n"], s["amount"]

class Glitter(Callback):
    order = 33

class Plain(Callback):
    pass

def make_sgd(params, lr=0.1, mom=0.0):
    from torchloom import SGD
    return SGD(params, lr=lr, mom=mom)
"""
