"""fp16 / bf16 through a real Learner: slot, ordering against clipping/accumulation, overflow, cleanup."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchloom_fp16 import BF16, FP16

from torchloom import (
    Callback,
    CrossEntropyLossFlat,
    FuncCallback,
    GradientAccumulation,
    GradientClip,
    Learner,
    get_registry,
)


def make_learner(n=128, bs=16, seed=0, **kw):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    dls = SimpleNamespace(train=DataLoader(TensorDataset(x[:96], y[:96]), batch_size=bs),
                          valid=DataLoader(TensorDataset(x[96:], y[96:]), batch_size=32))
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 2))
    return Learner(dls, model, loss_func=CrossEntropyLossFlat(), lr=1e-2, opt_func="sgd", progress=False, **kw)


def get_cb(learn, cls):
    return next(c for c in learn.cbs if isinstance(c, cls))


def test_registered_with_precision_slot_and_ordering():
    reg = get_registry()
    for name in ("fp16", "bf16"):
        e = reg.entry("callback", name)
        assert e.dist == "torchloom-fp16" and e.slot == "precision"
        assert e.after == ("gradient_accumulation",) and e.before == ("gradient_clip",)


@pytest.mark.parametrize("first,second", [("fp16", "bf16"), ("bf16", "fp16")])
def test_fp16_and_bf16_are_exclusive(first, second):
    learn = make_learner().use(first)
    with pytest.raises(Exception, match=rf"'{second}'.*slot 'precision'.*'{first}'"):
        learn.use(second)
    learn.unuse(first).use(second)                               # after unuse the slot is free


class RecordingClip(GradientClip):
    """A gradient clipper that records the gradient norm it sees, ordered *before* fp16 numerically."""

    order = 0

    def __init__(self):
        super().__init__(max_norm=1e9)
        self.name = "gradient_clip"
        self.norms = []

    def before_step(self):
        grads = [p.grad for pg in self.learn.opt.param_lists for p in pg if p.grad is not None]
        self.norms.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())
        super().before_step()


@pytest.mark.parametrize("precision", [None, "fp16", "bf16"])
def test_clipping_sees_unscaled_gradients(precision):
    """Same weights, same batches: the clipper sees the fp32 gradient norms (not 65536 times them)."""
    ref = make_learner()
    ref_clip = RecordingClip()
    ref.fit(1, cbs=ref_clip)
    learn = make_learner(use=[precision] if precision else None)
    clip = RecordingClip()
    learn.add_cb(clip)
    learn.fit(1)
    assert len(clip.norms) == len(ref_clip.norms) == 6
    names = [c.name for c in learn.ordered_cbs("before_step")]
    if precision:
        assert names.index(precision) < names.index("gradient_clip")
    assert clip.norms[0] == pytest.approx(ref_clip.norms[0], rel=2e-2)
    assert clip.norms == pytest.approx(ref_clip.norms, rel=0.1)


def test_order_against_accumulation_and_clipping_comes_from_names():
    learn = make_learner().use("fp16")
    acc = GradientAccumulation(n_acc=32)
    acc.order = 50                                               # numerically after fp16 and the clipper
    clip = RecordingClip()                                       # numerically before fp16 (order 0)
    learn.add_cbs([acc, clip])
    names = [c.name for c in learn.ordered_cbs("before_step")]
    assert names.index("gradient_accumulation") < names.index("fp16") < names.index("gradient_clip")


def test_fp16_with_accumulation_matches_fp32_accumulation():
    """Scaled gradients are summed over micro-batches and unscaled once, right before the step."""
    out = []
    for use in (None, ["fp16"]):
        learn = make_learner(use=use)
        learn.fit(1, cbs=[GradientAccumulation(n_acc=48), RecordingClip()])
        out.append(torch.cat([p.detach().flatten() for p in learn.model.parameters()]))
    torch.testing.assert_close(out[1], out[0], rtol=2e-2, atol=2e-3)
    assert not torch.equal(out[0], torch.cat([p.detach().flatten() for p in make_learner().model.parameters()]))


def test_injected_overflow_skips_the_step_in_a_real_fit():
    learn = make_learner().use("fp16", init_scale=256.0, growth_interval=1000)
    fp16 = get_cb(learn, FP16)
    snaps = {}

    def poison(cb):
        if cb.learn.iter == 3:
            snaps["before"] = [p.detach().clone() for p in cb.learn.model.parameters()]
            next(cb.learn.model.parameters()).grad[0, 0] = float("nan")

    def after(cb):
        if cb.learn.iter == 3:
            snaps["after"] = [p.detach().clone() for p in cb.learn.model.parameters()]

    learn.fit(1, cbs=[FuncCallback(after_backward=poison, run_valid=False),
                      FuncCallback(after_batch=after, run_valid=False)])
    assert fp16.n_skipped == 1
    assert fp16.loss_scale == 128.0
    assert all(torch.equal(a, b) for a, b in zip(snaps["before"], snaps["after"]))
    assert all(torch.isfinite(p).all() for p in learn.model.parameters())


class Boom(nn.Module):
    def __init__(self, inner, exc):
        super().__init__()
        self.inner, self.exc, self.calls = inner, exc, 0

    def forward(self, x):
        self.calls += 1
        if self.calls == 3:
            raise self.exc
        return self.inner(x)


@pytest.mark.parametrize("name", ["fp16", "bf16"])
def test_autocast_exited_when_the_forward_is_interrupted(name):
    learn = make_learner()
    learn.model = Boom(learn.model, KeyboardInterrupt())
    learn.use(name)
    with pytest.raises(KeyboardInterrupt):
        learn.fit(1)
    assert not torch.is_autocast_enabled("cpu")
    assert learn.model.calls == 3                                # it really was interrupted mid-forward


@pytest.mark.parametrize("name", ["fp16", "bf16"])
def test_weights_and_saved_model_stay_float32(name, tmp_path):
    learn = make_learner(use=[name])
    learn.path = tmp_path
    learn.fit(1)
    assert {p.dtype for p in learn.model.parameters()} == {torch.float32}
    preds, _ = learn.get_preds()
    assert preds.dtype == torch.float32
    if hasattr(learn, "save"):
        try:
            f = learn.save("m", with_opt=False)
        except NotImplementedError:
            pytest.skip("Learner.save is not implemented in this kernel yet")
        from safetensors.torch import load_file

        files = list(tmp_path.rglob("*.safetensors")) if f is None else [f]
        tensors = load_file(str(files[0]))
        assert tensors and {t.dtype for t in tensors.values()} <= {torch.float32, torch.int64}


class StepCounter(Callback):
    def __init__(self):
        super().__init__()
        self.steps = 0

    def after_step(self):
        self.steps += 1


def test_bf16_trains_with_every_step_taken():
    learn = make_learner(use=["bf16"])
    counter = StepCounter()
    learn.fit(2, cbs=counter)
    assert counter.steps == 12
    assert get_cb(learn, BF16).scaler is None


def test_checkpoint_restores_the_loss_scale(tmp_path):
    learn = make_learner(use=[("fp16", {"init_scale": 512.0, "growth_interval": 1000})])
    learn.path = tmp_path

    def poison(cb):
        if cb.learn.iter in (1, 4):
            next(cb.learn.model.parameters()).grad[0, 0] = float("inf")

    learn.fit(1, cbs=FuncCallback(after_backward=poison, run_valid=False))
    assert get_cb(learn, FP16).loss_scale == 128.0
    learn.save_checkpoint("ck")
    fresh = make_learner(use=["fp16"])
    fresh.path = tmp_path
    fresh.load_checkpoint("ck")
    fresh.fit(1)                                                 # no overflow: the scale carries on at 128
    fp16 = get_cb(fresh, FP16)
    assert fp16.loss_scale == 128.0 and fp16.scaler.get_growth_interval() == 1000


class AutocastSpy(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner, self.seen = inner, []

    def forward(self, x):
        self.seen.append(torch.is_autocast_enabled("cpu"))
        return self.inner(x)


def test_get_preds_inside_a_fit_keeps_autocast_and_scaler_working():
    learn = make_learner()
    learn.model = AutocastSpy(learn.model)
    learn.use("fp16", growth_interval=2)

    def peek(cb):
        if cb.learn.training and cb.learn.iter == 1:
            preds, _ = cb.learn.get_preds()
            assert preds.dtype == torch.float32

    learn.fit(1, cbs=FuncCallback(after_step=peek))
    assert all(learn.model.seen) and len(learn.model.seen) == 6 + 1 + 1   # train + nested valid + valid
    assert get_cb(learn, FP16).loss_scale == 2.0**16 * 2**3                # 6 good steps, growth every 2
    assert not torch.is_autocast_enabled("cpu")
