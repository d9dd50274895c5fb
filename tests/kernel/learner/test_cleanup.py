"""Guaranteed cleanup: cleanup_fit on every exit, state restored, the exception names callback and event."""
from __future__ import annotations

import pytest
import torch

from tests.kernel.learner.helpers import recorded, tiny
from torchloom import Callback, CancelBatchException
from torchloom.testing import EventRecorder


class SwapLoss(Callback):
    """Like MixUp: replaces the loss function for the fit and restores it in after_fit/cleanup_fit."""

    def before_fit(self):
        self.old = self.loss_func
        self.loss_func = lambda pred, *yb: self.old(pred, *yb) * 2  # written through to the learner

    def after_fit(self):
        self.loss_func = self.old

    def cleanup_fit(self):
        self.loss_func = self.old


class SwapLossNoCleanup(Callback):
    """A careless callback (restores only in after_fit): the Learner itself must still restore."""

    def before_fit(self):
        self.old = self.learn.loss_func
        self.learn.loss_func = torch.nn.functional.l1_loss


def test_cleanup_fit_fires_once_after_after_fit():
    learn = tiny()
    rec = recorded(learn)
    learn.fit(2)
    assert rec.count("cleanup_fit") == 1 and rec.events[-2:] == ["after_fit", "cleanup_fit"]


def test_callback_write_to_loss_func_goes_to_learner_and_is_restored():
    learn = tiny()
    original = learn.loss_func
    seen = []
    learn.add_cbs([SwapLoss(), Callback(after_loss=lambda cb: seen.append(cb.learn.loss_func))])
    learn.fit(1)
    assert seen and all(f is not original for f in seen)
    assert learn.loss_func is original
    assert "loss_func" not in vars(learn.swap_loss)  # the write did not stay on the callback


def test_keyboard_interrupt_with_loss_swapping_callback_leaves_learner_clean():
    learn = tiny()
    learn.create_opt()
    original_loss, original_opt = learn.loss_func, learn.opt
    learn.model.train(False)
    rec = EventRecorder(raise_at={"after_loss": KeyboardInterrupt})
    temp = Callback(before_fit=lambda cb: None)
    learn.add_cbs([SwapLoss(), SwapLossNoCleanup()])
    cbs_before = list(learn.cbs)
    with pytest.raises(KeyboardInterrupt) as info:
        learn.fit(3, cbs=[rec, temp])
    assert type(info.value) is KeyboardInterrupt
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "event_recorder" in notes and "after_loss" in notes
    assert learn.loss_func is original_loss and learn.opt is original_opt
    assert learn.model.training is False and learn.training is False
    assert learn.cbs == cbs_before and rec.learn is None and temp.learn is None  # temporary cbs removed
    assert rec.events[-1] == "cleanup_fit" and "after_fit" not in rec.events
    learn.fit(1)  # still usable


def test_exception_keeps_its_type_and_names_callback_and_event():
    class Boom(Callback):
        def before_validate(self):
            raise ZeroDivisionError("boom")

    learn = tiny()
    rec = recorded(learn)
    learn.add_cb(Boom())
    with pytest.raises(ZeroDivisionError, match="boom") as info:
        learn.fit(1)
    assert any("callback 'boom' (Boom) during event 'before_validate'" in n for n in info.value.__notes__)
    assert rec.events[-1] == "cleanup_fit" and rec.count("cleanup_fit") == 1


def test_exception_in_model_forward_is_attributed_to_the_loop():
    learn = tiny()

    class Broken(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            raise RuntimeError("bad shapes")

    learn.model = Broken()
    with pytest.raises(RuntimeError) as info:
        learn.fit(1)
    assert any("training loop itself" in n and "epoch 0" in n for n in info.value.__notes__)


def test_every_cleanup_runs_even_if_one_raises():
    calls = []

    class BadCleanup(Callback):
        order = 5

        def cleanup_fit(self):
            calls.append("bad")
            raise ValueError("cleanup failed")

    class GoodCleanup(Callback):
        order = 1

        def cleanup_fit(self):
            calls.append("good")

    learn = tiny()
    learn.add_cbs([BadCleanup(), GoodCleanup(), EventRecorder(raise_at={"before_batch": RuntimeError("x")})])
    with pytest.raises(RuntimeError, match="x") as info:
        learn.fit(1)
    assert calls == ["bad", "good"]  # reverse order, both ran
    assert any("cleanup failed" in n for n in info.value.__notes__)


def test_cleanup_error_after_successful_fit_is_raised():
    learn = tiny()
    learn.add_cb(Callback(cleanup_fit=lambda cb: 1 / 0))
    with pytest.raises(ZeroDivisionError) as info:
        learn.fit(1)
    assert any("cleanup_fit" in n for n in info.value.__notes__)


def test_cancel_escaping_its_scope_still_cleans_up():
    learn = tiny()
    rec = recorded(learn, raise_at={"before_fit": CancelBatchException})
    with pytest.raises(CancelBatchException):
        learn.fit(1)
    assert rec.events == ["before_fit", "cleanup_fit"]


def test_model_modes_are_restored_per_module():
    learn = tiny(task="classification")
    learn.model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.1), torch.nn.Linear(4, 3))
    learn.model.train()
    learn.model[1].eval()
    learn.add_cb(EventRecorder(raise_at={"after_pred": KeyboardInterrupt}))
    with pytest.raises(KeyboardInterrupt):
        learn.fit(1)
    assert [m.training for m in learn.model.modules()] == [True, True, False, True]


def test_on_error_warn_disables_observer_and_training_continues():
    class FlakyLogger(Callback):
        on_error = "warn"

        def __init__(self):
            super().__init__()
            self.n = 0

        def after_batch(self):
            self.n += 1
            raise ConnectionError("logging server down")

    learn = tiny()
    cb = FlakyLogger()
    learn.add_cb(cb)
    with pytest.warns(RuntimeWarning, match="flaky_logger.*logging server down") as w:
        learn.fit(2)
    assert len([x for x in w if "flaky_logger" in str(x.message)]) == 1
    assert cb.n == 1 and len(learn.recorder.values) == 2
    with pytest.warns(RuntimeWarning):
        learn.fit(1)  # re-enabled for the next fit
    assert cb.n == 2


def test_on_error_warn_does_not_swallow_keyboard_interrupt():
    learn = tiny()
    cb = Callback(after_batch=lambda cb: (_ for _ in ()).throw(KeyboardInterrupt()))
    cb.on_error = "warn"
    learn.add_cb(cb)
    with pytest.raises(KeyboardInterrupt):
        learn.fit(1)


def test_bad_on_error_value_is_rejected():
    cb = Callback(before_fit=lambda cb: None)
    cb.on_error = "ignore"
    with pytest.raises(ValueError, match="on_error must be 'raise' or 'warn'"):
        tiny().add_cb(cb)


def test_hooks_registered_for_the_fit_are_removed_even_on_interrupt():
    calls = []

    class Spy(Callback):
        def before_fit(self):
            self.remove_after_fit(self.model.register_forward_hook(lambda m, i, o: calls.append(1)))

    for raise_at in ({}, {"after_loss": KeyboardInterrupt}):
        learn = tiny()
        learn.add_cbs([Spy(), EventRecorder(raise_at=raise_at)])
        try:
            learn.fit(1)
        except KeyboardInterrupt:
            pass
        n = len(calls)
        assert n > 0
        learn.model(torch.zeros(2, 1))
        assert len(calls) == n and not learn.model._forward_hooks
    with pytest.raises(TypeError, match="remove_after_fit expects a handle"):
        Spy().remove_after_fit(object())
