"""Schedules, ParamScheduler and the fit recipes on a real (tiny) Learner; training callbacks."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from torchloom.callbacks._base import Callback
from torchloom.callbacks._schedule import (
    ParamScheduler,
    SchedCos,
    SchedExp,
    SchedLin,
    SchedNo,
    SchedPoly,
    combine_scheds,
    combined_cos,
    minimum,
    slide,
    steep,
    valley,
)
from torchloom.callbacks._training import GradientAccumulation, GradientClip, TerminateOnNaN
from torchloom.optim._optimizer import SGD
from torchloom.testing import synth_learner


def test_schedule_values():
    assert SchedLin(0, 10)(0.5) == 5
    assert SchedCos(0, 10)(0) == pytest.approx(0) and SchedCos(0, 10)(1) == pytest.approx(10)
    assert SchedCos(0, 10)(0.5) == pytest.approx(5)
    assert SchedCos(0, 10)(0.25) == pytest.approx(10 * (1 - math.cos(math.pi / 4)) / 2)
    assert SchedExp(1, 100)(0.5) == pytest.approx(10)
    assert SchedPoly(0, 10, 2)(0.5) == pytest.approx(2.5)
    assert SchedNo(3, 5)(0.7) == 3
    f = combine_scheds([0.3, 0.7], [SchedLin(0, 1), SchedLin(1, 0)])
    assert f(0) == 0 and f(0.15) == pytest.approx(0.5) and f(0.3) == pytest.approx(1)
    assert f(0.65) == pytest.approx(0.5) and f(1.0) == pytest.approx(0)
    arr = combined_cos(0.25, np.array([1.0, 2.0]), np.array([10.0, 20.0]), np.array([0.0, 0.0]))
    np.testing.assert_allclose(arr(0.25), [10, 20])
    assert combine_scheds([0.0, 1.0], [SchedNo(5), SchedLin(0, 1)])(0.0) == 0  # empty segment skipped
    with pytest.raises(ValueError, match="sum to 1"):
        combine_scheds([0.5, 0.6], [SchedNo(1), SchedNo(2)])


def _learn(**kw):
    torch.manual_seed(0)
    return synth_learner(task="classification", n_train=64, n_valid=32, bs=16, **kw)


def test_fit_one_cycle_schedules_lr_and_mom():
    learn = _learn()
    learn.fit_one_cycle(2, lr_max=1e-2, div=25, div_final=1e4, pct_start=0.25)
    hps = learn.recorder.hps
    lrs, moms = np.array(hps["lr"]), np.array(hps["mom"])
    assert len(lrs) == 8  # 4 batches x 2 epochs, train only
    assert lrs[0] == pytest.approx(1e-2 / 25)
    assert lrs.max() == pytest.approx(1e-2, rel=0.05) and lrs.argmax() == 2
    assert lrs[-1] < 1e-3 and moms[0] == pytest.approx(0.95) and moms[2] == pytest.approx(0.85)
    assert learn.opt.hypers[0]["mom"] > 0.9  # back up at the end


def test_discriminative_lr_per_group():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    learn = synth_learner(task="classification", n_train=32, n_valid=16, bs=16,
                          splitter=lambda m: [list(m[0].parameters()), list(m[2].parameters())])
    learn.model = model
    seen = []
    learn.fit_one_cycle(1, slice(1e-4, 1e-2), pct_start=0.5,
                        cbs=[Callback(after_step=lambda cb: seen.append([h["lr"] for h in cb.opt.hypers]))])
    peak = max(seen, key=lambda x: x[1])
    assert peak[0] / peak[1] == pytest.approx(1e-2)


def test_fit_flat_cos_and_sgdr():
    learn = _learn()
    learn.fit_flat_cos(2, lr=1e-2, pct_start=0.5)
    lrs = learn.recorder.hps["lr"]
    assert lrs[:4] == pytest.approx([1e-2] * 4) and lrs[-1] == pytest.approx(1e-2 * (1 + math.cos(0.75 * math.pi)) / 2, rel=1e-3)
    learn = _learn()
    epochs = []
    learn.fit_sgdr(2, 1, lr_max=1e-2, cbs=[Callback(after_epoch=lambda cb: epochs.append(cb.epoch))])
    assert epochs == [0, 1, 2]  # 1 + 2 epochs
    lrs = learn.recorder.hps["lr"]
    assert lrs[0] == pytest.approx(1e-2) and lrs[4] == pytest.approx(1e-2)  # restart at epoch 1


def test_lr_find_restores_weights_and_optimizer_and_suggests():
    learn = _learn(lr=1e-3)
    learn.fit(1)
    w = {k: v.clone() for k, v in learn.model.state_dict().items()}
    opt_state = {id(p): {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in s.items()}
                 for p, s in learn.opt.state.items()}
    res = learn.lr_find(num_it=40, end_lr=10, suggest_funcs=(valley, steep, minimum, slide))
    assert res._fields == ("valley", "steep", "minimum", "slide")
    assert all(1e-7 <= v <= 10 for v in res)
    assert len(learn.lr_finder.lrs) >= 10
    for k, v in learn.model.state_dict().items():
        assert torch.equal(v, w[k]), k
    for p, s in learn.opt.state.items():
        for k, v in s.items():
            old = opt_state[id(p)][k]
            assert torch.equal(v, old) if isinstance(v, torch.Tensor) else v == old
    assert learn.opt.hypers[0]["lr"] == 1e-3


def test_fine_tune_freezes_then_unfreezes_with_discriminative_lr():
    torch.manual_seed(0)
    learn = synth_learner(task="classification", n_train=32, n_valid=16, bs=16,
                          splitter=lambda m: [list(m[0].parameters()), list(m[2].parameters())])
    learn.model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    body0 = learn.model[0].weight.detach().clone()
    phases = []

    def record(cb):
        phases.append((cb.model[0].weight.requires_grad, [h["lr"] for h in cb.opt.hypers]))

    learn.fine_tune(1, base_lr=2e-3, freeze_epochs=1, cbs=[Callback(after_fit=record)])
    assert phases[0][0] is False and phases[1][0] is True
    assert not torch.equal(learn.model[0].weight, body0)
    lrs = phases[1][1]  # end of the one-cycle: both groups annealed by the same factor
    assert lrs[1] / lrs[0] == pytest.approx(100)


def test_param_scheduler_validates_input():
    with pytest.raises(TypeError, match="dict"):
        ParamScheduler([SchedNo(1)])


def test_gradient_accumulation_equals_bigger_batch():
    def run(bs, cbs):
        torch.manual_seed(0)
        learn = synth_learner(task="regression", n_train=64, n_valid=16, bs=bs, lr=0.05,
                              opt_func=lambda ps, lr: SGD(ps, lr=lr))
        learn.fit(2, cbs=cbs)
        return [p.detach().clone() for p in learn.model.parameters()]

    a = run(8, [GradientAccumulation(n_acc=16)])
    b = run(16, [])
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="n_acc"):
        GradientAccumulation(0)


def test_gradient_clip_bounds_the_norm():
    norms = []

    class Probe(Callback):
        order = 12

        def before_step(self):
            norms.append(float(torch.linalg.vector_norm(
                torch.stack([p.grad.norm() for p in self.learn.model.parameters()]))))

    learn = _learn(lr=0.5)
    learn.fit(1, cbs=[GradientClip(max_norm=0.01), Probe()])
    assert norms and max(norms) <= 0.01 + 1e-6


def test_terminate_on_nan_names_epoch_and_iteration():
    learn = _learn()

    def poison(cb):
        if cb.epoch == 1 and cb.iter == 2:
            cb.learn.loss = torch.tensor(float("nan"))

    epochs = []
    with pytest.warns(RuntimeWarning, match="epoch 1, iteration 2"):
        learn.fit(3, cbs=[TerminateOnNaN(), Callback(after_loss=poison),
                          Callback(after_epoch=lambda cb: epochs.append(cb.epoch))])
    assert epochs == [0]
    assert "epoch 1, iteration 2" in learn.terminated_on_nan


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "radam"])
def test_registered_optimizer_names_train(name):
    learn = _learn(opt_func=name, lr=1e-2)
    w0 = learn.model.weight.detach().clone()
    learn.fit(1)
    assert type(learn.opt).__name__ == "Optimizer" and not torch.equal(learn.model.weight, w0)


def test_learner_freeze_keeps_batchnorm_training_and_no_wd_on_bn_bias():
    torch.manual_seed(0)
    learn = synth_learner(task="classification", n_train=32, n_valid=16, bs=16,
                          splitter=lambda m: [list(m[0].parameters()) + list(m[1].parameters()),
                                              list(m[3].parameters())])
    learn.model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    learn.freeze()
    assert not learn.model[0].weight.requires_grad and learn.model[1].weight.requires_grad
    assert learn.opt.state[learn.model[1].weight] == {"do_wd": False, "force_train": True}
    assert learn.opt.state[learn.model[3].bias] == {"do_wd": False}
    w0, bn0 = learn.model[0].weight.detach().clone(), learn.model[1].weight.detach().clone()
    learn.fit(1)
    assert torch.equal(learn.model[0].weight, w0) and not torch.equal(learn.model[1].weight, bn0)
    learn.unfreeze()
    assert all(p.requires_grad for p in learn.model.parameters())


def test_fit_one_cycle_drives_a_wrapped_torch_optimizer():
    from functools import partial

    from torchloom.optim._wrapper import OptimWrapper

    learn = _learn(opt_func=partial(OptimWrapper, opt=torch.optim.AdamW))
    betas = []
    learn.fit_one_cycle(1, 1e-2, cbs=[Callback(after_step=lambda cb: betas.append(cb.opt.opt.param_groups[0]["betas"]))])
    assert betas[0][0] == pytest.approx(0.95) and min(b[0] for b in betas) < 0.9
    assert learn.recorder.hps["lr"][0] == pytest.approx(1e-2 / 25)
