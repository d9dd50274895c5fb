"""MixUp / CutMix through a real Learner: registration, training, restoration, inference untouched."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchloom_mixup import CutMix, MixedLoss, MixUp

from torchloom import CrossEntropyLossFlat, FuncCallback, Learner, accuracy, get_registry


def blobs(n=384, d=10, c=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(c, d, generator=g) * 2.5
    y = torch.randint(0, c, (n,), generator=g)
    return centers[y] + torch.randn(n, d, generator=g), y


def make_dls(xs, y, n_valid=96, bs=32):
    train = TensorDataset(*(x[:-n_valid] for x in xs), y[:-n_valid])
    valid = TensorDataset(*(x[-n_valid:] for x in xs), y[-n_valid:])
    return SimpleNamespace(train=DataLoader(train, batch_size=bs, shuffle=True),
                           valid=DataLoader(valid, batch_size=64), n_inp=len(xs))


def mlp_learner(**kw):
    torch.manual_seed(0)
    x, y = blobs()
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3))
    return Learner(make_dls((x,), y), model, loss_func=CrossEntropyLossFlat(), metrics=accuracy, lr=1e-2,
                   progress=False, **kw)


def test_registered_names_and_conflicts():
    reg = get_registry()
    for name, other, cls in (("mixup", "cutmix", "MixUp"), ("cutmix", "mixup", "CutMix")):
        e = reg.entry("callback", name)
        assert e.dist == "torchloom-mixup" and e.conflicts == (other,)
        assert e.target == f"torchloom_mixup.mixup:{cls}"
    assert reg.plugin("torchloom-mixup").provides["callback"] == ["cutmix", "mixup"]


def test_use_mixup_mixes_training_only_and_restores_the_loss():
    learn = mlp_learner()
    base = learn.loss_func
    seen = {"train": set(), "valid": set()}

    def spy(cb):
        seen["train" if cb.learn.training else "valid"].add(type(cb.learn.loss_func).__name__)

    learn.use("mixup")
    cb = learn.cbs[[c.name for c in learn.cbs].index("mixup")]
    assert isinstance(cb, MixUp) and cb.alpha == 0.4
    learn.fit(3, cbs=FuncCallback(after_loss=spy))
    assert seen == {"train": {"MixedLoss"}, "valid": {"CrossEntropyLossFlat"}}
    assert learn.loss_func is base
    loss, acc = learn.validate()
    assert acc > 0.9, f"MixUp on well-separated blobs should still learn, got accuracy {acc:.3f}"


def test_reconfigure_with_use_and_scope_with_using():
    learn = mlp_learner()
    learn.use("mixup").use("mixup", alpha=0.2)
    cbs = [c for c in learn.cbs if isinstance(c, MixUp)]
    assert len(cbs) == 1 and cbs[0].alpha == 0.2
    learn.unuse("mixup")
    with learn.using("cutmix", alpha=0.5):
        assert [c.alpha for c in learn.cbs if isinstance(c, CutMix)] == [0.5]
    assert not any(isinstance(c, (MixUp, CutMix)) for c in learn.cbs)


def test_mixup_and_cutmix_conflict_naming_both():
    learn = mlp_learner().use("mixup")
    with pytest.raises(Exception, match=r"'cutmix'.*conflicts with 'mixup'") as info:
        learn.use("cutmix")
    assert "torchloom-mixup" in str(info.value)


def test_keyboard_interrupt_mid_epoch_leaves_loss_func_as_it_was():
    learn = mlp_learner().use("mixup")
    base = learn.loss_func
    cb = next(c for c in learn.cbs if isinstance(c, MixUp))
    during = []

    def interrupt(c):
        if c.learn.training and c.learn.iter == 2:
            during.append(c.learn.loss_func)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        learn.fit(1, cbs=FuncCallback(after_loss=interrupt))
    assert isinstance(during[0], MixedLoss)                      # the swap was active when it happened
    assert learn.loss_func is base
    assert cb._mixed_loss is None and cb.yb1 is None             # the callback itself cleaned up
    learn.fit(1)                                                 # and the learner is usable again
    assert learn.loss_func is base


def test_predictions_unaffected():
    learn = mlp_learner()
    learn.fit(1)
    plain, targs = learn.get_preds()
    with learn.using("mixup"):
        mixed, targs2 = learn.get_preds()
    assert torch.equal(plain, mixed) and torch.equal(targs, targs2)
    x_valid = learn.dls.valid.dataset.tensors[0]
    learn.model.eval()
    with torch.no_grad():
        want = learn.model(x_valid).softmax(-1)
    torch.testing.assert_close(plain, want)


class TwoInput(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(5, 4)
        self.lin = nn.Linear(4 + 10, 3)

    def forward(self, cat, cont):
        return self.lin(torch.cat([self.emb(cat), cont], 1))


def test_tabular_style_inputs_train_with_mixup():
    torch.manual_seed(0)
    x, y = blobs()
    cat = (y + torch.randint(0, 2, y.shape)) % 5                # a categorical column, an integer tensor
    seen = []
    learn = Learner(make_dls((cat, x), y), TwoInput(), loss_func=CrossEntropyLossFlat(), metrics=accuracy,
                    lr=1e-2, progress=False, use=["mixup"])
    learn.fit(2, cbs=FuncCallback(before_batch=lambda c: seen.append(c.learn.xb[0].dtype) if c.training else None,
                                  order=1))
    assert set(seen) == {torch.int64}
    assert learn.validate()[1] > 0.8


def test_cutmix_trains_a_small_cnn():
    torch.manual_seed(0)
    n = 192
    y = torch.randint(0, 2, (n,))
    imgs = torch.randn(n, 1, 8, 8) * 0.3
    imgs[y == 1, :, 2:6, 2:6] += 2.0                            # class 1 has a bright square
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, 2))
    learn = Learner(make_dls((imgs,), y, n_valid=64), model, loss_func=CrossEntropyLossFlat(),
                    metrics=accuracy, lr=3e-2, progress=False).use("cutmix")
    learn.fit(4)
    assert learn.validate()[1] > 0.85


def test_get_preds_inside_a_fit_does_not_undo_the_swap():
    """A callback that looks at validation predictions mid-epoch (a nested inference run)."""
    learn = mlp_learner().use("mixup")
    base = learn.loss_func
    seen = []

    def peek(cb):
        if cb.learn.training and cb.learn.iter == 1:
            preds, _, losses = cb.learn.get_preds(with_loss=True)
            assert losses.shape == (96,)                         # per-item losses through the MixedLoss
        if cb.learn.training:
            seen.append(type(cb.learn.loss_func).__name__)

    learn.fit(1, cbs=FuncCallback(after_batch=peek))
    assert set(seen) == {"MixedLoss"}
    assert learn.loss_func is base and base.reduction == "mean"
