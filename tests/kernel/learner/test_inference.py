"""get_preds / validate / predict / show_results."""
from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from tests.kernel.learner.helpers import tiny
from torchloom import Callback, accuracy
from torchloom.testing import EventRecorder


def trained(**kw):
    learn = tiny(task="classification", n_train=64, n_valid=40, metrics=accuracy, **kw)
    learn.fit(2, lr=0.05)
    return learn


def test_get_preds_matches_model_and_dataset_order():
    learn = trained()
    x, y = learn.dls.valid.tensors
    preds, targs = learn.get_preds()
    assert torch.allclose(preds, F.softmax(learn.model(x), -1).detach(), atol=1e-6)
    assert torch.equal(targs, y) and preds.device.type == "cpu"


def test_get_preds_from_a_shuffled_loader_keeps_order():
    learn = trained()
    x, y = learn.dls.train.tensors
    assert learn.dls.train.shuffle
    preds, targs = learn.get_preds(ds_idx=0)
    assert torch.equal(targs, y)
    assert torch.allclose(preds, F.softmax(learn.model(x), -1).detach(), atol=1e-6)


def test_get_preds_with_everything():
    learn = trained()
    x, y = learn.dls.valid.tensors
    inp, preds, targs, dec, losses = learn.get_preds(with_input=True, with_decoded=True, with_loss=True)
    assert torch.equal(inp, x) and torch.equal(dec, preds.argmax(-1))
    assert torch.allclose(losses, F.cross_entropy(learn.model(x), y, reduction="none").detach(), atol=1e-5)
    assert learn.loss_func.reduction == "mean"  # restored
    raw, _ = learn.get_preds(act=lambda t: t)
    assert torch.allclose(raw, learn.model(x).detach(), atol=1e-6)


def test_get_preds_with_plain_function_loss():
    learn = tiny(task="classification", loss_func=F.cross_entropy)
    _, _, losses = learn.get_preds(with_loss=True)
    assert losses.shape == (16,) and learn.loss_func is F.cross_entropy


def test_inference_does_not_touch_history_or_train():
    learn = trained()
    values, losses = [list(v) for v in learn.recorder.values], list(learn.recorder.losses)
    params = [p.detach().clone() for p in learn.model.parameters()]
    rec = EventRecorder()
    learn.get_preds(cbs=[rec])
    assert learn.recorder.values == values and learn.recorder.losses == losses
    assert all(torch.equal(a, b) for a, b in zip(params, learn.model.parameters()))
    assert rec.events[:2] == ["before_fit", "before_validate"] and rec.events[-2:] == ["after_fit", "cleanup_fit"]
    assert "before_train" not in rec.events and rec.learn is None and learn.is_inference is False


def test_validate_returns_loss_and_metrics():
    learn = trained()
    res = learn.validate()
    assert res == pytest.approx(learn.recorder.values[-1][1:], rel=1e-5)
    preds, targs = learn.get_preds()
    assert res[1] == pytest.approx(accuracy(preds, targs).item())
    assert len(learn.recorder.values) == 2


def test_validate_without_recorder():
    learn = trained()
    expect = learn.validate()
    learn.remove_cb("recorder")
    assert learn.validate() == pytest.approx(expect) and not hasattr(learn, "recorder")


def test_predict():
    learn = trained()
    x = learn.dls.valid.tensors[0][3]
    dec_targ, dec_pred, probs = learn.predict(x)
    expect = F.softmax(learn.model(x[None]), -1)[0].detach()
    assert torch.allclose(probs, expect, atol=1e-6) and dec_pred.item() == expect.argmax().item()
    assert torch.equal(dec_targ, dec_pred)




def test_show_results_delegates_to_the_loader():
    learn = trained()
    calls = []
    dl = learn.dls.valid
    dl.show_results = lambda b, preds, max_n=9, **kw: calls.append((b, preds, max_n, kw))
    learn.show_results(dl=dl, max_n=4, nrows=2)
    b, preds, max_n, kw = calls[0]
    assert max_n == 4 and kw == {"nrows": 2} and preds.shape == (16,)
    with pytest.raises(TypeError, match="show_results needs a DataLoader"):
        learn.show_results(dl=[b])


def test_predict_needs_test_dl():
    learn = trained()

    class Bare:
        train, valid, n_inp = learn.dls.train, learn.dls.valid, 1

    learn.dls = Bare()
    with pytest.raises(TypeError, match="predict needs dls.test_dl"):
        learn.predict(torch.zeros(4))


def test_validate_inside_a_fit_does_not_disturb_the_loop():
    learn = tiny(task="classification", n_train=64, n_valid=40)
    mid = []
    learn.add_cb(Callback(after_train=lambda cb: mid.append(cb.learn.validate())))
    seen = []
    learn.add_cb(Callback(after_batch=lambda cb: seen.append((cb.training, cb.n_iter, cb.epoch))))
    learn.fit(2)
    assert len(mid) == 2 and len(learn.recorder.values) == 2
    # 4 train batches, 3 of the inner validate(), 3 of the epoch's own validation, then epoch 1
    assert seen[:4] == [(True, 4, 0)] * 4 and seen[4:10] == [(False, 3, 0)] * 6 and seen[10] == (True, 4, 1)
    assert learn.train_iter == 8


def test_plain_torch_optimizer_is_wrapped():
    learn = tiny(opt_func=lambda params, lr: torch.optim.SGD(params, lr=lr))
    learn.fit(1, lr=0.01)
    assert type(learn.opt).__name__ == "OptimWrapper" and learn.opt.param_groups[0]["lr"] == 0.01
    bad = tiny(opt_func=lambda params, lr: object())
    with pytest.raises(TypeError, match="has no set_hypers"):
        bad.fit(1)


def test_get_preds_inside_a_fit_does_not_refire_fit_events():
    learn = tiny(task="classification")
    rec = EventRecorder(only=("before_fit", "after_fit", "cleanup_fit"))
    learn.add_cb(rec)
    got = []
    learn.add_cb(Callback(after_epoch=lambda cb: got.append(cb.learn.get_preds()[0].shape)))
    modes = []
    learn.add_cb(Callback(after_batch=lambda cb: cb.training and (cb.learn.get_preds(), modes.append(
        cb.model.training))))
    learn.fit(2)
    assert rec.events == ["before_fit", "after_fit", "cleanup_fit"] and got == [(16, 3)] * 2
    assert modes == [True] * 4  # predicting mid-epoch left the model in train mode
