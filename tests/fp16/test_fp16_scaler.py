"""The fp16 loss scaler and autocast handling, driven event by event on a minimal stand-in learner."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn
from torchloom_fp16 import BF16, FP16, MixedPrecision, to_float

from torchloom import SGD, CancelStepException


def make(cb):
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    learn = SimpleNamespace(model=model, opt=SGD(list(model.parameters()), lr=0.1), training=True,
                            pred=None, loss=None, loss_grad=None)
    cb.learn = learn
    cb.before_fit()
    return learn


def one_batch(cb, learn, inject_inf=False):
    """The Learner's training batch, as fastai orders it. Returns True when the optimizer stepped."""
    x, y = torch.randn(8, 4), torch.randn(8, 2)
    cb.before_batch()
    learn.pred = learn.model(x)
    assert torch.is_autocast_enabled("cpu")
    cb.after_pred()
    learn.loss_grad = nn.functional.mse_loss(learn.pred, y)
    learn.loss = learn.loss_grad.clone()
    cb.after_loss()
    assert not torch.is_autocast_enabled("cpu")
    cb.before_backward()
    learn.loss_grad.backward()
    if inject_inf:
        learn.model.weight.grad[0, 0] = float("inf")
    stepped = False
    try:
        cb.before_step()
        learn.opt.step()
        stepped = True
    except CancelStepException:
        pass
    learn.opt.zero_grad()
    cb.after_batch()
    return stepped


def test_overflow_skips_the_step_and_halves_the_scale():
    cb = FP16(init_scale=1024.0)
    learn = make(cb)
    assert one_batch(cb, learn)
    assert cb.loss_scale == 1024.0
    before = [p.detach().clone() for p in learn.model.parameters()]
    assert not one_batch(cb, learn, inject_inf=True)
    assert cb.n_skipped == 1
    assert cb.loss_scale == 512.0
    assert all(torch.equal(a, b) for a, b in zip(before, learn.model.parameters()))
    assert one_batch(cb, learn)                                  # the next good batch steps again
    assert not all(torch.equal(a, b) for a, b in zip(before, learn.model.parameters()))


def test_scale_grows_after_growth_interval_good_steps():
    cb = FP16(init_scale=8.0, growth_interval=3, growth_factor=4.0)
    learn = make(cb)
    for _ in range(2):
        one_batch(cb, learn)
    assert cb.loss_scale == 8.0
    one_batch(cb, learn)
    assert cb.loss_scale == 32.0
    one_batch(cb, learn, inject_inf=True)                        # an overflow also resets the growth count
    assert cb.loss_scale == 16.0
    for _ in range(2):
        one_batch(cb, learn)
    assert cb.loss_scale == 16.0


def test_gradients_are_unscaled_before_the_step():
    cb = FP16(init_scale=2.0**10)
    learn = make(cb)
    x, y = torch.randn(8, 4), torch.randn(8, 2)
    ref = nn.Linear(4, 2)
    ref.load_state_dict(learn.model.state_dict())
    nn.functional.mse_loss(ref(x), y).backward()
    cb.before_batch()
    learn.pred = learn.model(x)
    cb.after_pred()
    learn.loss_grad = nn.functional.mse_loss(learn.pred, y)
    cb.after_loss()
    cb.before_backward()
    learn.loss_grad.backward()
    assert learn.model.weight.grad.abs().max() > 100 * ref.weight.grad.abs().max()  # scaled by 1024
    cb.before_step()
    torch.testing.assert_close(learn.model.weight.grad, ref.weight.grad, rtol=2e-2, atol=1e-3)
    cb.after_batch()


def test_predictions_come_back_float32_and_weights_stay_float32():
    for cb in (FP16(), BF16()):
        learn = make(cb)
        one_batch(cb, learn)
        cb.before_batch()
        raw = learn.model(torch.randn(2, 4))
        assert raw.dtype == cb.dtype                             # the forward really ran in low precision
        learn.pred = (raw, [raw])
        cb.after_pred()
        cb.after_batch()
        assert learn.pred[0].dtype == torch.float32 and learn.pred[1][0].dtype == torch.float32
        assert {p.dtype for p in learn.model.parameters()} == {torch.float32}


def test_autocast_is_left_on_an_exception_only_until_cleanup():
    cb = BF16()
    learn = make(cb)
    cb.before_batch()
    assert torch.is_autocast_enabled("cpu")                      # an exception in the forward lands here
    cb.cleanup_fit()
    assert not torch.is_autocast_enabled("cpu")
    cb.cleanup_fit()                                             # idempotent
    assert not torch.is_autocast_enabled("cpu")
    assert learn.model.weight.dtype == torch.float32


def test_bf16_has_no_scaler_and_does_not_touch_the_loss():
    cb = BF16()
    learn = make(cb)
    assert cb.scaler is None and cb.loss_scale is None
    learn.loss_grad = torch.tensor(2.0)
    cb.before_backward()
    assert learn.loss_grad.item() == 2.0
    assert one_batch(cb, learn)


def test_scaler_state_round_trips_before_and_after_setup():
    cb = FP16(init_scale=64.0, growth_interval=2)
    learn = make(cb)
    one_batch(cb, learn, inject_inf=True)
    one_batch(cb, learn)
    sd = cb.state_dict()
    assert sd["scale"] == 32.0 and sd["_growth_tracker"] == 1
    fresh = FP16()
    fresh.load_state_dict(sd)                                    # before any fit: applied at before_fit
    assert fresh.state_dict()["scale"] == 32.0
    make(fresh)
    assert fresh.loss_scale == 32.0
    one_batch(fresh, fresh.learn)
    assert fresh.loss_scale == 64.0                              # the growth count was restored too


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="amp_mode must be one of"):
        MixedPrecision("fp8")
    with pytest.raises(ValueError, match="growth_interval"):
        FP16(growth_interval=0)
    with pytest.raises(ValueError, match="backoff_factor"):
        FP16(backoff_factor=1.5)
    with pytest.raises(ValueError, match="init_scale"):
        FP16(init_scale=0)


def test_to_float_walks_containers():
    h = torch.ones(2, dtype=torch.float16)
    i = torch.ones(2, dtype=torch.int64)
    out = to_float({"a": (h, i), "b": [torch.ones(1, dtype=torch.bfloat16)]})
    assert out["a"][0].dtype == torch.float32 and out["a"][1] is i and out["b"][0].dtype == torch.float32
