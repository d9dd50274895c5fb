"""Callback API: two-way attribute access, ordering with constraints, function callbacks, add/remove."""
from __future__ import annotations

import pytest
import torch

from tests.kernel.learner.helpers import tiny
from torchloom import Callback
from torchloom.callbacks._base import CallbackOrderError, FuncCallback, callback, class2attr


class Named(Callback):
    def __init__(self, tag, order=0, before=(), after=()):
        super().__init__()
        self.tag = tag
        self.order, self.before, self.after = order, before, after
        self.name = tag

    def before_batch(self):
        self.learn.trace.append(self.tag)


def trace_learner(*cbs):
    learn = tiny(default_cbs=False)
    learn.trace = []
    learn.add_cbs(list(cbs))
    return learn


def run_order(learn):
    return [cb.name for cb in learn.ordered_cbs("before_batch")]


def test_class2attr_matches_fastai():
    assert class2attr(type("Recorder", (), {})) == "recorder"
    assert class2attr(type("GANTrainer", (), {})) == "gan_trainer"
    assert class2attr(type("RNNCallback", (), {})) == "rnn"
    assert class2attr(type("TrainEvalCallback", (), {})) == "train_eval"


def test_reads_fall_back_to_learner_and_loop_state_writes_go_to_it():
    class Scale(Callback):
        def before_batch(self):
            self.xb = (self.xb[0] * 0,)  # replaces the learner's input

        def after_pred(self):
            self.seen = self.pred.detach().clone()
            self.pred = self.pred + 1  # replaces the learner's prediction

        def after_loss(self):
            self.loss_seen = self.loss

    learn = tiny()
    cb = Scale()
    learn.add_cb(cb)
    learn.fit(1)
    assert "xb" not in vars(cb) and "pred" not in vars(cb)
    b = learn.model.b.detach()
    assert torch.allclose(cb.seen, b.expand_as(cb.seen))  # model saw zeros
    assert cb.epoch == learn.epoch and cb.n_epoch == 1  # reads fall back
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        cb.nonexistent  # noqa: B018


def test_unattached_callback_attribute_error_is_clear():
    with pytest.raises(AttributeError, match="not attached to a Learner"):
        Callback().epoch  # noqa: B018


def test_learn_attribute_named_after_callback_and_removed_with_it():
    learn = tiny()
    assert learn.recorder in learn.cbs and learn.train_eval in learn.cbs
    learn.remove_cb(learn.recorder)
    assert not hasattr(learn, "recorder")
    assert [type(c).__name__ for c in learn.cbs] == ["TrainEvalCallback", "CastToTensor", "FitGuard"]


def test_remove_cb_by_class_and_name():
    a, b = Named("a"), Named("b")
    learn = trace_learner(a, b)
    learn.remove_cb("a")
    assert run_order(learn) == ["b"] and a.learn is None
    learn.remove_cb(Named)
    assert run_order(learn) == []


def test_add_cb_accepts_class_and_rejects_others():
    learn = tiny(default_cbs=False)
    learn.add_cb(Named.__mro__[1])  # Callback class itself
    with pytest.raises(TypeError, match="expects a Callback"):
        learn.add_cb(lambda: None)


def test_callback_cannot_join_two_learners():
    cb = Named("a")
    tiny().add_cb(cb)
    with pytest.raises(ValueError, match="already attached to another Learner"):
        tiny().add_cb(cb)


def test_numeric_order_then_insertion():
    learn = trace_learner(Named("c", order=5), Named("a", order=0), Named("b", order=0))
    assert run_order(learn) == ["a", "b", "c"]
    learn.fit(1)
    assert learn.trace[:3] == ["a", "b", "c"]


def test_before_after_constraints_beat_numeric_order():
    learn = trace_learner(Named("x", order=0, after=["y"]), Named("y", order=10), Named("z", order=5, before="x"))
    assert run_order(learn) == ["z", "y", "x"]


def test_unknown_constraint_names_are_ignored():
    learn = trace_learner(Named("x", after=["not_installed"]))
    assert run_order(learn) == ["x"]


def test_cycle_is_an_error_that_prints_it():
    learn = trace_learner(Named("p", after=["q"]))
    with pytest.raises(CallbackOrderError, match=r"p -> q -> p|q -> p -> q"):
        learn.add_cb(Named("q", after=["p"]))
    assert run_order(learn) == ["p"]  # the failed add left nothing behind


def test_changing_order_after_adding_reorders():
    a, b = Named("a"), Named("b")
    learn = trace_learner(a, b)
    a.order = 20
    assert run_order(learn) == ["b", "a"]


def test_show_order_explains(capsys):
    learn = tiny(progress=True)
    learn.add_cbs([Named("x", after=["recorder"]), Named("y", order=-20)])
    learn.show_order("before_batch")
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "before_batch:"
    lines = out.splitlines()[1:]
    assert lines[0].split()[1] == "y" and "order=-20" in lines[0]
    assert any("x" == ln.split()[1] and "after recorder (x declares after='recorder')" in ln for ln in lines)
    learn.show_order()
    full = capsys.readouterr().out
    assert "after_batch:" in full and "training only" in full and "cleanup_fit" in full


def test_function_callbacks():
    calls = []
    learn = tiny()
    learn.add_cb(Callback(before_fit=lambda cb: calls.append(("fit", cb.n_epoch))))

    @callback("after_epoch", order=70)
    def note_epoch(cb):
        calls.append(("epoch", cb.epoch))

    assert isinstance(note_epoch, FuncCallback) and note_epoch.name == "note_epoch" and note_epoch.order == 70
    learn.add_cb(note_epoch)
    assert learn.note_epoch is note_epoch
    learn.fit(2)
    assert calls == [("fit", 2), ("epoch", 0), ("epoch", 1)]


def test_function_callback_bad_event_name():
    with pytest.raises(TypeError, match="before_bach"):
        Callback(before_bach=lambda cb: None)
    with pytest.raises(ValueError, match="unknown event"):
        callback("before_bach")


def test_fit_cbs_are_temporary_and_added_cbs_context():
    learn = tiny()
    n = len(learn.cbs)
    tmp = Named("t")
    learn.trace = []
    learn.fit(1, cbs=[tmp])
    assert len(learn.cbs) == n and tmp.learn is None and learn.trace
    with learn.added_cbs(Named("u")):
        assert any(c.name == "u" for c in learn.cbs)
    assert len(learn.cbs) == n


def test_removed_cbs_puts_back_in_same_place():
    learn = tiny()
    order = list(learn.cbs)
    with learn.removed_cbs("recorder"):
        assert not hasattr(learn, "recorder")
        learn.fit(1)
    assert learn.cbs == order and learn.recorder is order[2]


def test_state_dict_default_empty():
    assert Callback().state_dict() == {}


def test_callback_named_like_learner_state_does_not_clobber_it():
    learn = tiny()
    cb = Callback(before_fit=lambda cb: None)
    cb.name = "pred"  # learn.pred is loop state (None between fits)
    with pytest.warns(RuntimeWarning, match="named 'pred', which is already a Learner attribute"):
        learn.add_cb(cb)
    assert learn.pred is None
    fit_cb = Callback(before_fit=lambda cb: None)
    fit_cb.name = "fit"
    with pytest.warns(RuntimeWarning):
        learn.add_cb(fit_cb)
    learn.fit(1)
