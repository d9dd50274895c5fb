"""Event names, nesting and the exact sequences of every Cancel*Exception (fastai.md §4.1)."""
from __future__ import annotations

import pytest
import torch

from tests.kernel.learner.helpers import BATCH_TRAIN, BATCH_VALID, recorded, tiny
from torchloom import (
    Callback,
    CancelBackwardException,
    CancelBatchException,
    CancelEpochException,
    CancelFitException,
    CancelStepException,
    CancelTrainException,
    CancelValidException,
)
from torchloom.callbacks._base import EVENTS, CancelValidateException, event

EPOCH = ["before_epoch", "before_train", *BATCH_TRAIN, *BATCH_TRAIN, "after_train",
         "before_validate", *BATCH_VALID, "after_validate", "after_epoch"]


def test_event_namespace_lists_fastai_names_plus_cleanup():
    assert event.after_cancel_validate == "after_cancel_validate"
    assert EVENTS[0] == "after_create" and EVENTS[-2:] == ("after_fit", "cleanup_fit")
    assert CancelValidateException is CancelValidException


def test_normal_run_sequence_is_exact():
    learn = tiny()
    rec = recorded(learn)
    learn.fit(1)
    rec.assert_order(["before_fit", *EPOCH, "after_fit", "cleanup_fit"], exact=True)
    assert rec.phases[rec.events.index("before_validate") + 1] == "valid"


def test_after_create_fires_once_at_construction():
    from torchloom.testing import EventRecorder

    rec = EventRecorder()
    learn = tiny(cbs=[rec])
    assert rec.events == ["after_create"]
    assert learn.n_epoch == 1  # TrainEvalCallback.after_create


def test_two_epochs_repeat_epoch_block():
    learn = tiny()
    rec = recorded(learn)
    learn.fit(2)
    rec.assert_order(["before_fit", *EPOCH, *EPOCH, "after_fit", "cleanup_fit"], exact=True)


def test_cancel_batch_in_after_loss_skips_backward_step_and_zero_grad():
    learn = tiny()
    rec = recorded(learn, raise_at={"after_loss": CancelBatchException})
    grads = []
    learn.add_cb(Callback(after_batch=lambda cb: grads.append(
        None if not cb.training else next(cb.model.parameters()).grad)))
    learn.fit(1)
    first = rec.events[rec.events.index("before_batch"):][:6]
    assert first == ["before_batch", "after_pred", "after_loss", "after_cancel_batch", "after_batch", "before_batch"]
    # zero_grad skipped on the cancelled batch: its gradient is still None (never computed), the next is cleared
    assert grads[0] is None


def test_cancel_step_runs_zero_grad():
    learn = tiny()
    rec = recorded(learn, raise_at={"before_step": CancelStepException})
    before = [p.detach().clone() for p in learn.model.parameters()]
    seen = []
    learn.add_cb(Callback(after_batch=lambda cb: seen.append([p.grad for p in cb.model.parameters()])))
    learn.fit(1)
    i = rec.events.index("before_step")
    assert rec.events[i:i + 4] == ["before_step", "after_cancel_step", "after_step", "after_batch"]
    assert all(g is None for g in seen[0])  # zero_grad ran although the step was cancelled
    assert any(not torch.equal(a, b) for a, b in zip(before, learn.model.parameters()))  # 2nd batch stepped


def test_cancel_backward():
    learn = tiny()
    rec = recorded(learn, raise_at={"before_backward": CancelBackwardException})
    learn.fit(1)
    i = rec.events.index("before_backward")
    assert rec.events[i:i + 4] == ["before_backward", "after_cancel_backward", "after_backward", "before_step"]


def test_cancel_fit_in_before_train_skips_after_train_and_after_epoch():
    learn = tiny()
    rec = recorded(learn, raise_at={"before_train": CancelFitException})
    learn.fit(3)
    rec.assert_order(["before_fit", "before_epoch", "before_train", "after_cancel_fit", "after_fit",
                      "cleanup_fit"], exact=True)


def test_cancel_epoch_in_before_train():
    learn = tiny()
    rec = recorded(learn, raise_at={"before_train": CancelEpochException})
    learn.fit(1)
    rec.assert_order(["before_fit", "before_epoch", "before_train", "after_cancel_epoch", "after_epoch",
                      "after_fit", "cleanup_fit"], exact=True)


def test_cancel_epoch_only_skips_that_epoch():
    learn = tiny()
    rec = recorded(learn, raise_at={"before_train": CancelEpochException})
    learn.fit(2)
    assert rec.count("before_epoch") == 2 and rec.count("after_train") == 1


def test_cancel_train_goes_to_validation():
    learn = tiny()
    rec = recorded(learn, raise_at={"after_batch": CancelTrainException})
    learn.fit(1)
    i = rec.events.index("after_cancel_train")
    assert rec.events[i - 1:i + 3] == ["after_batch", "after_cancel_train", "after_train", "before_validate"]
    assert rec.count("before_batch") == 2  # one train batch, one valid batch
    assert learn.recorder.values[0][0] > 0  # train loss of the one batch that ran


def test_cancel_validate_skips_validation_but_not_epoch():
    learn = tiny()
    rec = recorded(learn, raise_at={"before_validate": CancelValidException})
    learn.fit(1)
    i = rec.events.index("before_validate")
    assert rec.events[i:i + 4] == ["before_validate", "after_cancel_validate", "after_validate", "after_epoch"]
    assert len(learn.recorder.values[0]) == 1  # valid_loss and metrics dropped (fastai)


def test_inner_loop_run_train_run_valid():
    class TrainOnly(Callback):
        run_valid = False

        def __init__(self):
            super().__init__()
            self.n = 0
            self.fits = 0

        def before_batch(self):
            self.n += 1

        def before_fit(self):  # outer events are not filtered
            self.fits += 1

    class ValidOnly(TrainOnly):
        run_valid, run_train = True, False

    learn = tiny()
    t, v = TrainOnly(), ValidOnly()
    learn.add_cbs([t, v])
    learn.fit(1)
    assert (t.n, v.n) == (2, 1) and t.fits == v.fits == 1


def test_run_flag_set_to_false_skips_until_end_of_fit():
    class Once(Callback):
        def __init__(self):
            super().__init__()
            self.n = 0

        def before_batch(self):
            self.n += 1
            self.run = False

    learn = tiny()
    cb = Once()
    learn.add_cb(cb)
    learn.fit(1)
    learn.fit(1)
    assert cb.n == 2 and cb.run


def test_training_flags_and_counters():
    learn = tiny()
    seen = []
    learn.add_cb(Callback(after_batch=lambda cb: seen.append((cb.training, cb.epoch, cb.iter, cb.n_iter,
                                                              cb.train_iter, round(cb.pct_train, 4)))))
    learn.fit(2)
    assert seen[:3] == [(True, 0, 0, 2, 1, 0.25), (True, 0, 1, 2, 2, 0.5), (False, 0, 0, 1, 2, 0.5)]
    assert seen[-1][:2] == (False, 1) and learn.train_iter == 4 and learn.pct_train == pytest.approx(1.0)
    assert not learn.model.training


def test_loop_state_is_cleared_after_fit():
    learn = tiny()
    learn.fit(1)
    assert learn.pred is None and learn.loss is None and learn.loss_grad is None and learn.xb == (None,)


def test_no_targets_means_no_loss_and_no_step():
    learn = tiny()
    learn.dls.train.tensors = learn.dls.train.tensors[:1]
    learn.dls.n_inp = 1
    before = [p.detach().clone() for p in learn.model.parameters()]
    learn.fit(1)
    assert all(torch.equal(a, b) for a, b in zip(before, learn.model.parameters()))


def test_unknown_event_name_is_a_clear_error():
    learn = tiny()
    with pytest.raises(ValueError, match="unknown event 'before_fitt'"):
        learn("before_fitt")


def test_fit_zero_epochs_and_no_validation_set():
    learn = tiny()
    rec = recorded(learn)
    learn.fit(0)
    assert rec.events == ["before_fit", "after_fit", "cleanup_fit"]

    class TrainOnlyDLs:
        train, n_inp, device = learn.dls.train, 1, None

    learn.dls = TrainOnlyDLs()
    rec.clear()
    learn.fit(1)
    i = rec.events.index("before_validate")
    assert rec.events[i:i + 3] == ["before_validate", "after_validate", "after_epoch"]
    assert learn.recorder.values[-1][1] is None  # no valid loss
