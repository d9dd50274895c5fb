"""learn.save/load, trackers, checkpoint errors, export/load_learner -- safe formats only."""
from __future__ import annotations

import pickle

import pytest
import torch
from torch import nn

from tests.security.helpers import mlp, real_dls  # the same small labelled data set
from torchloom import MissingPluginError, load_learner
from torchloom._persist.safe import UnsafeFileError, load_file, model_factory, save_file
from torchloom.callbacks._base import Callback, FuncCallback
from torchloom.callbacks._checkpoint import Checkpoint
from torchloom.callbacks._trackers import EarlyStopping, ReduceLROnPlateau, SaveModel
from torchloom.testing import synth_learner


def _learn(tmp_path, **kw):
    torch.manual_seed(0)
    return synth_learner(task="classification", n_train=48, n_valid=32, bs=16, path=tmp_path, **kw)


def test_save_load_roundtrip_with_optimizer(tmp_path):
    learn = _learn(tmp_path)
    learn.fit(1)
    p = learn.save("stage1")
    assert p == tmp_path / "models" / "stage1.safetensors" and p.exists()
    sd = {k: v.clone() for k, v in learn.model.state_dict().items()}
    opt_sd = learn.opt.state_dict()
    other = _learn(tmp_path)
    other.load("stage1")
    for k, v in other.model.state_dict().items():
        assert torch.equal(v, sd[k])
    got = other.opt.state_dict()
    assert got["hypers"] == opt_sd["hypers"] and set(got["state"]) == set(opt_sd["state"])
    assert torch.equal(got["state"]["0.0"]["sqr_avg"], opt_sd["state"]["0.0"]["sqr_avg"])
    learn.save("noopt", with_opt=False)
    with pytest.warns(UserWarning, match="no optimizer state"):
        other.load("noopt")


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_learn_load_refuses_pickles_without_running_them(tmp_path):
    learn = _learn(tmp_path)
    marker = tmp_path / "pwned"
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "evil.safetensors").write_bytes(pickle.dumps({"model": _Evil(str(marker))}))
    torch.save({"model": _Evil(str(marker))}, tmp_path / "models" / "evil.pth")
    with pytest.raises(UnsafeFileError, match=r"evil\.safetensors is a pickle"):
        learn.load("evil")
    with pytest.raises(UnsafeFileError, match=r"evil\.pth is a zip archive"):
        learn.load("evil.pth")
    with pytest.raises(UnsafeFileError, match="pickle"):
        learn.fit(1, resume="evil")
    with pytest.raises(UnsafeFileError):
        load_learner(tmp_path / "models" / "evil.safetensors")
    assert not marker.exists()


def test_early_stopping_stops_after_patience(tmp_path):
    learn = _learn(tmp_path)
    epochs = []
    es = EarlyStopping(monitor="valid_loss", patience=2)
    learn.fit(10, lr=0.0, cbs=[es, Callback(after_epoch=lambda cb: epochs.append(cb.epoch))])
    assert es.stopped_epoch == 2 and epochs == [0, 1, 2]
    with pytest.raises(ValueError, match="monitor='nope' is not recorded"):
        learn.fit(1, cbs=[EarlyStopping(monitor="nope")])


class _NoLearning(Callback):
    """Zero the gradients (and run after the trackers) so the monitored loss cannot improve."""

    order = 65

    def __init__(self, log):
        super().__init__()
        self.log = log

    def after_backward(self):
        for p in self.learn.model.parameters():
            p.grad.zero_()

    def after_epoch(self):
        self.log.append(self.learn.opt.hypers[0]["lr"])


def test_reduce_lr_on_plateau(tmp_path):
    learn = _learn(tmp_path)
    lrs = []
    learn.fit(4, lr=1.0, wd=0.0, cbs=[ReduceLROnPlateau(patience=1, factor=10, min_lr=0.005), _NoLearning(lrs)])
    assert lrs == pytest.approx([1.0, 0.1, 0.01, 0.005])


def test_save_model_keeps_best_and_reloads_it(tmp_path):
    learn = _learn(tmp_path, lr=0.05)
    losses = []
    sm = SaveModel(monitor="valid_loss", fname="best")
    learn.fit(3, cbs=[sm, FuncCallback(order=70, after_epoch=lambda cb: losses.append(cb.recorder.values[-1][1]))])
    assert (tmp_path / "models" / "best.safetensors").exists()
    assert sm.best == pytest.approx(min(losses))
    best, _ = load_file(tmp_path / "models" / "best.safetensors")
    for k, v in learn.model.state_dict().items():  # best weights reloaded at the end
        assert torch.equal(v, best["model"][k])
    learn.fit(2, cbs=[SaveModel(every_epoch=True, fname="ep")])
    assert (tmp_path / "models" / "ep_0.safetensors").exists() and (tmp_path / "models" / "ep_1.safetensors").exists()


def test_checkpoint_holds_everything_and_tracker_state_resumes(tmp_path):
    learn = _learn(tmp_path, lr=0.05)
    es = EarlyStopping(patience=5)
    learn.fit(2, cbs=[Checkpoint(), es])
    obj, meta = load_file(tmp_path / "models" / "checkpoint.safetensors")
    assert meta["kind"] == "checkpoint" and meta["epoch"] == 1 and "plugins" in meta
    assert set(obj) >= {"model", "opt", "cbs", "rng", "pos"}
    assert set(obj["rng"]) >= {"torch", "numpy", "python"}
    assert obj["cbs"]["early_stopping"]["best"] == pytest.approx(es.best)
    assert obj["pos"] == {"epoch": 1, "n_epoch": 2, "train_iter": 6}
    other = _learn(tmp_path, lr=0.05)
    es2 = EarlyStopping(patience=5)
    seen = []
    with pytest.warns(RuntimeWarning, match="run of 2 epochs with n_epoch=3"):
        other.fit(3, cbs=[es2, Callback(before_epoch=lambda cb: seen.append(cb.epoch))], resume="checkpoint")
    assert seen == [2]  # continues after the saved epoch
    assert es2.best <= es.best  # the tracked best survived the resume (not reset to inf)
    assert not any(type(c).__name__ == "_ResumeState" for c in other.cbs)


def test_resume_with_missing_plugin_names_it(tmp_path):
    learn = _learn(tmp_path)
    learn.fit(1, cbs=[Checkpoint()])
    path = tmp_path / "models" / "checkpoint.safetensors"
    obj, meta = load_file(path)
    meta["plugins"] = {"warp_drive": {"dist": "torchloom-warp", "version": "9.9", "kind": "callback"}}
    save_file(path, obj, meta=meta)
    with pytest.raises(MissingPluginError, match=r"'warp_drive'.*torchloom-warp 9\.9.*pip install torchloom-warp"):
        _learn(tmp_path).fit(2, resume="checkpoint")
    with pytest.raises(ValueError, match="not a checkpoint"):
        learn.save("weights_only")
        learn.load_checkpoint("weights_only")


# --- export / load_learner ----------------------------------------------------------------------

def test_export_and_load_learner_predicts_the_same(tmp_path):
    from torchloom import CrossEntropyLossFlat, Learner

    dls, items = real_dls()
    torch.manual_seed(0)
    spec = {"factory": f"{mlp.__module__}:mlp", "kwargs": {"n_in": 4, "n_out": 2, "hidden": 8}}
    learn = Learner(dls, mlp(4, 2, 8), loss_func=CrossEntropyLossFlat(label_smoothing=0.1), path=tmp_path,
                    model_spec=spec, progress=False)
    learn.logger = lambda *a: None
    learn.fit(2, lr=1e-2)
    p = learn.export()
    assert p == tmp_path / "export.safetensors"
    new = load_learner(p)
    assert type(new.loss_func).__name__ == "CrossEntropyLossFlat"
    assert new.loss_func.func.label_smoothing == 0.1
    assert list(new.dls.vocab) == ["neg", "pos"]
    for item in items[45:50]:
        a, b = learn.predict(item), new.predict(item)
        assert a[0] == b[0] and torch.allclose(a[2], b[2])


@model_factory
def small_cnn(n_out: int = 2) -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 1), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(8, n_out))


@pytest.mark.parametrize("channels_last", [True, False])
def test_load_learner_restores_the_memory_format(tmp_path, channels_last):
    from torchloom import Learner

    torch.manual_seed(0)
    model = small_cnn(2)
    if channels_last:  # what vision_learner does by default
        model.to(memory_format=torch.channels_last)
    learn = Learner(((),), model, loss_func=nn.CrossEntropyLoss(), path=tmp_path, progress=False,
                    model_spec={"factory": f"{__name__}:small_cnn", "kwargs": {"n_out": 2}})
    with pytest.warns(UserWarning, match="no get_spec"):
        p = learn.export()
    new = load_learner(p)
    w = new.model[0].weight
    assert w.is_contiguous(memory_format=torch.channels_last) == channels_last
    assert w.is_contiguous() != channels_last
    x = torch.randn(2, 3, 5, 5)
    assert torch.allclose(new.model(x), learn.model.eval()(x), atol=1e-6)
    obj, meta = load_file(p)
    meta["memory_format"] = "channels_first"
    save_file(p, obj, meta=meta)
    with pytest.raises(ValueError, match="'memory_format' must be 'channels_last' or null, got 'channels_first'"):
        load_learner(p)


def test_export_refuses_unsafe_factories(tmp_path):
    learn = _learn(tmp_path)
    with pytest.raises(ValueError, match="model_spec"):
        learn.export()
    learn.model_spec = {"factory": "os:system", "kwargs": {}}
    with pytest.raises(ValueError, match="refusing model factory target 'os:system'"):
        learn.export()
    learn.model_spec = {"factory": "torch.nn:Linear", "kwargs": {"in_features": 4, "out_features": 3}}
    with pytest.warns(UserWarning, match="no get_spec"):
        p = learn.export("exp")
    obj, meta = load_file(p)
    meta["model_spec"] = {"factory": "os:system", "kwargs": {"command": "touch pwned"}}
    save_file(p, obj, meta=meta)
    with pytest.raises(ValueError, match="refusing model factory target 'os:system'"):
        load_learner(p)
    meta["model_spec"] = {"factory": "torch.nn:Linear", "kwargs": {"in_features": 4, "out_features": 3}}
    meta["plugins"] = {"vision": {"dist": "torchloom-vision-x", "version": "1", "kind": "callback"}}
    save_file(p, obj, meta=meta)
    with pytest.raises(MissingPluginError, match="pip install torchloom-vision-x"):
        load_learner(p)


def test_checkpoint_through_use_records_plugins_and_resumes(tmp_path):
    learn = _learn(tmp_path).use("checkpoint", fname="ck")
    learn.fit(2)
    _, meta = load_file(tmp_path / "models" / "ck.safetensors")
    assert meta["plugins"]["checkpoint"]["dist"] == "torchloom"
    seen = []
    other = _learn(tmp_path)
    with pytest.warns(RuntimeWarning, match="n_epoch=3"), \
            pytest.warns(RuntimeWarning, match=r"plugins \['checkpoint'\] active"):
        other.fit(3, resume="ck", cbs=[Callback(before_epoch=lambda cb: seen.append(cb.epoch))])
    assert seen == [2]
    again = _learn(tmp_path).use("checkpoint", fname="ck")
    with pytest.warns(RuntimeWarning) as rec:
        again.fit(3, resume="ck")  # same plugins active: only the length warning; it keeps checkpointing
    assert [str(w.message) for w in rec if "plugins" in str(w.message)] == []
    _, meta = load_file(tmp_path / "models" / "ck.safetensors")
    assert meta["epoch"] == 2


def test_resume_warns_on_other_length_and_leaves_no_residue_on_error(tmp_path):
    learn = _learn(tmp_path)
    learn.fit(2, cbs=[Checkpoint()])
    other = _learn(tmp_path)
    with pytest.warns(RuntimeWarning, match="run of 2 epochs with n_epoch=4"):
        other.fit(4, resume="checkpoint")

    def boom(cb):
        raise KeyError("boom")

    third = _learn(tmp_path)
    with pytest.raises(KeyError, match="boom"):
        third.fit(2, resume="checkpoint", cbs=[Callback(before_fit=boom)])
    assert [type(c).__name__ for c in third.cbs if type(c).__name__ == "_ResumeState"] == []


def test_optim_wrapper_state_survives_a_file(tmp_path):
    from functools import partial

    from torchloom.optim._wrapper import OptimWrapper

    opt_func = partial(OptimWrapper, opt=torch.optim.AdamW)
    learn = _learn(tmp_path, opt_func=opt_func)
    learn.fit(1)
    learn.save("wrapped")
    other = _learn(tmp_path, opt_func=opt_func)
    other.load("wrapped")
    a, b = learn.opt.state_dict()["torch"], other.opt.state_dict()["torch"]
    assert a["param_groups"] == b["param_groups"]
    for k in a["state"]:
        assert torch.equal(a["state"][k]["exp_avg_sq"], b["state"][k]["exp_avg_sq"])
        assert torch.equal(a["state"][k]["step"], b["state"][k]["step"])
