"""LAMB by name through the registry and a Learner; a large-batch run converges."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torchloom_lamb import Lamb, lamb_step

from torchloom import CrossEntropyLossFlat, Learner, UnknownNameError, get_registry
from torchloom.testing import SynthDataLoaders, synth_learner


def test_registered_as_optimizer_and_stepper():
    reg = get_registry()
    opt = reg.entry("optimizer", "lamb")
    assert opt.dist == "torchloom-lamb" and opt.kind == "optimizer" and reg.get("stepper", "lamb") is None
    assert opt.load() is Lamb
    step = reg.entry("stepper", "lamb_step")
    assert reg.get("optimizer", "lamb_step") is None and step.load() is lamb_step
    assert reg.plugin("torchloom-lamb").provides == {"optimizer": ["lamb"], "stepper": ["lamb_step"]}


def test_opt_func_by_name_builds_a_vectorised_lamb():
    learn = synth_learner(task="classification", opt_func="lamb")
    learn.fit(1)
    assert learn.opt.steppers[-1] is lamb_step and learn.opt.foreach
    assert learn.opt.hypers[0]["sqr_mom"] == 0.99
    p = next(learn.model.parameters())
    assert learn.opt.state[p]["step"] == len(learn.dls.train)


def test_use_lamb_switches_the_optimizer_with_kwargs_and_unuse_restores():
    learn = synth_learner(task="classification")
    learn.use("lamb", wd=0.05, max_trust=5.0)
    assert learn.plugins_used["lamb"]["dist"] == "torchloom-lamb"
    learn.fit(1)
    assert learn.opt.steppers[-1] is lamb_step
    assert learn.opt.hypers[0]["max_trust"] == 5.0
    learn.unuse("lamb")
    learn.fit(1)
    assert lamb_step not in learn.opt.steppers


def test_large_batch_training_converges():
    """bs=1024, 8 steps an epoch: 10 Gaussian blobs in 16-d (1.5 sd apart), MLP 16-64-10, lr 3e-2.

    Measured: validation loss 1.49, 0.74, 0.24, 0.06 after epochs 1-4 (ln 10 = 2.30 at the start).
    """
    g = torch.Generator().manual_seed(0)
    n, d, c = 9216, 16, 10
    centers = torch.randn(c, d, generator=g) * 1.5
    y = torch.randint(0, c, (n,), generator=g)
    x = centers[y] + torch.randn(n, d, generator=g)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, c))
    dls = SynthDataLoaders((x[:8192], y[:8192]), (x[8192:], y[8192:]), bs=1024)
    learn = Learner(dls, model, loss_func=CrossEntropyLossFlat(), opt_func="lamb", lr=3e-2, progress=False)
    learn.logger = lambda *a, **k: None
    learn.fit(4)
    valid_losses = [v[1] for v in learn.recorder.values]
    assert valid_losses[-1] < 0.25, f"LAMB at bs=1024 did not converge: validation losses {valid_losses}"
    assert valid_losses == sorted(valid_losses, reverse=True)


def test_unknown_hyper_is_rejected():
    with pytest.raises(TypeError):
        Lamb([torch.zeros(2, requires_grad=True)], betas=(0.9, 0.99))


def test_lamb_asked_for_as_a_stepper_names_its_kind_and_does_not_say_install():
    with pytest.raises(UnknownNameError) as err:
        get_registry().entry("stepper", "lamb")
    assert "'lamb' is registered as an optimizer, not a stepper" in str(err.value)
    assert "pip install" not in str(err.value)
