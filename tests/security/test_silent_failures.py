"""Failures that used to be silent now raise or warn: leaked gradients, truncated float targets,
NaN losses, a model whose output does not match the number of classes."""
from __future__ import annotations

import warnings

import pytest
import torch

from tests.security.helpers import make_learner, mlp, real_dls
from torchloom import Callback, CrossEntropyLossFlat, Learner
from torchloom.callbacks._guards import NonFiniteLossWarning
from torchloom.testing import SynthDataLoaders, synth_learner


class _StopAfterBackward(Callback):
    def after_backward(self):
        raise KeyboardInterrupt  # a Ctrl-C between backward and step


class _GradsAtFirstBatch(Callback):
    def before_fit(self):
        self.seen = None

    def before_batch(self):
        if self.seen is None:
            self.seen = [p.grad for p in self.learn.model.parameters()]


def test_gradients_of_an_interrupted_batch_do_not_leak(tmp_path):
    learn = synth_learner(task="classification")
    with pytest.raises(KeyboardInterrupt):
        learn.fit(1, cbs=[_StopAfterBackward()])
    assert all(p.grad is None for p in learn.model.parameters())  # cleared in cleanup
    for p in learn.model.parameters():  # gradients left by user code before a fit
        p.grad = torch.full_like(p, 1e6)
    probe = _GradsAtFirstBatch()
    learn.fit(1, cbs=[probe])
    assert probe.seen and all(g is None for g in probe.seen)  # cleared at fit start


def test_float_targets_to_cross_entropy_are_refused():
    loss = CrossEntropyLossFlat()
    out = torch.randn(2, 3)
    with pytest.raises(TypeError, match=r"float targets .*truncated to 0"):
        loss(out, torch.tensor([0.7, 1.0]))
    probs = torch.softmax(torch.randn(2, 3), 1)  # class probabilities (soft labels) still work
    assert torch.allclose(loss(out, probs), torch.nn.functional.cross_entropy(out, probs))
    assert loss(out, torch.tensor([0, 2])).isfinite()


def test_first_non_finite_loss_warns_naming_the_batch():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 4, generator=g), torch.randint(0, 3, (64,), generator=g)
    x[5 * 8 + 1, 2] = float("nan")  # an item of training batch 5 (bs 8, no shuffle)
    dls = SynthDataLoaders((x[:48], y[:48]), (x[48:], y[48:]), bs=8, shuffle=False)
    learn = Learner(dls, torch.nn.Linear(4, 3), loss_func=CrossEntropyLossFlat(), progress=False)
    learn.logger = lambda *a: None
    with pytest.warns(NonFiniteLossWarning, match=r"became nan at epoch 0, training batch 5 ") as rec:
        learn.fit(2)
    assert len([w for w in rec if issubclass(w.category, NonFiniteLossWarning)]) == 1  # once per fit
    clean = synth_learner(task="classification")
    with warnings.catch_warnings():
        warnings.simplefilter("error", NonFiniteLossWarning)
        clean.fit(1)


def test_model_output_must_match_the_number_of_classes(tmp_path):
    dls, _ = real_dls()  # 2 classes
    learn = Learner(dls, mlp(4, 5, 8), loss_func=CrossEntropyLossFlat(), path=tmp_path, progress=False)
    learn.logger = lambda *a: None
    with pytest.raises(ValueError, match=r"outputs 5 values per item .* data has 2 classes"):
        learn.fit(1)
    assert all(p.grad is None for p in learn.model.parameters())


def test_first_batch_check_costs_nothing_after_the_first_batch(tmp_path):
    learn = make_learner(tmp_path)
    handlers = []

    class Probe(Callback):
        order = 100

        def after_batch(self):
            handlers.append([type(cb).__name__ for cb, _ in self.learn._ev_train["after_loss"]])

    learn.fit(1, cbs=[Probe()])
    assert "FitGuard" not in handlers[1] and all("FitGuard" not in h for h in handlers[1:])


class PlainModuleLoss(torch.nn.Module):
    def forward(self, out, targ):
        return torch.nn.functional.cross_entropy(out, targ)


def test_export_refuses_a_loss_load_learner_would_refuse(tmp_path):
    learn = make_learner(tmp_path)
    learn.loss_func = PlainModuleLoss()
    with pytest.raises(ValueError, match=r"loss_func: refusing loss class target .*PlainModuleLoss.*exportable_loss"):
        learn.export()
    assert not (tmp_path / "export.safetensors").exists()
