"""The stepper-built optimizers against torch.optim, the vectorised path, hypers, freezing, state."""
from __future__ import annotations

import copy
from functools import partial

import pytest
import torch
from torch import nn

from torchloom.optim._optimizer import (
    SGD,
    Adam,
    AdamW,
    Optimizer,
    RAdam,
    even_mults,
    norm_bias_params,
    set_norm_bias_flags,
)
from torchloom.optim._steppers import average_grad, sgd_step, step_stat
from torchloom.optim._wrapper import OptimWrapper


def _model(seed=0, bn=True):
    torch.manual_seed(seed)
    # (without BN for numeric comparisons: a bias feeding BN has a pure-rounding-noise gradient that Adam amplifies)
    return nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8) if bn else nn.Tanh(), nn.ReLU(), nn.Linear(8, 3))


def _run(model, opt, n=6, seed=1):
    g = torch.Generator().manual_seed(seed)
    for _ in range(n):
        x = torch.randn(16, 5, generator=g)
        y = torch.randint(0, 3, (16,), generator=g)
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return [p.detach().clone() for p in model.parameters()]


def _compare(ours_fn, torch_fn, atol=1e-6, n=6):
    m1, m2 = _model(bn=False), _model(bn=False)
    a = _run(m1, ours_fn(list(m1.parameters())), n)
    b = _run(m2, torch_fn(list(m2.parameters())), n)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, atol=atol, rtol=1e-5)
    # and the update actually moved the weights
    assert not torch.equal(a[0], _model(bn=False).state_dict()["0.weight"])


@pytest.mark.parametrize("foreach", [False, True])
def test_sgd_momentum_matches_torch(foreach):
    _compare(lambda ps: SGD(ps, lr=0.1, mom=0.9, wd=1e-2, decouple_wd=False, foreach=foreach),
             lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-2))


@pytest.mark.parametrize("foreach", [False, True])
def test_plain_sgd_matches_torch(foreach):
    _compare(lambda ps: SGD(ps, lr=0.05, foreach=foreach), lambda ps: torch.optim.SGD(ps, lr=0.05))


@pytest.mark.parametrize("foreach", [False, True])
def test_adam_matches_torch_adamw(foreach):
    _compare(lambda ps: Adam(ps, lr=1e-2, mom=0.9, sqr_mom=0.99, eps=1e-5, wd=0.01, foreach=foreach),
             lambda ps: torch.optim.AdamW(ps, lr=1e-2, betas=(0.9, 0.99), eps=1e-5, weight_decay=0.01))
    _compare(lambda ps: AdamW(ps, lr=3e-3, wd=0.1, foreach=foreach),
             lambda ps: torch.optim.AdamW(ps, lr=3e-3, betas=(0.9, 0.99), eps=1e-5, weight_decay=0.1))


def test_adam_l2_matches_torch_adam():
    _compare(lambda ps: Adam(ps, lr=1e-2, wd=1e-3, decouple_wd=False),
             lambda ps: torch.optim.Adam(ps, lr=1e-2, betas=(0.9, 0.99), eps=1e-5, weight_decay=1e-3))


@pytest.mark.parametrize("foreach", [False, True])
def test_radam_matches_torch(foreach):
    # torch puts eps outside the bias correction; with a tiny eps both agree. 12 steps crosses r > 5.
    _compare(lambda ps: RAdam(ps, lr=1e-2, sqr_mom=0.9, eps=1e-12, foreach=foreach),
             lambda ps: torch.optim.RAdam(ps, lr=1e-2, betas=(0.9, 0.9), eps=1e-12), atol=1e-5, n=12)


def test_fastai_default_hypers():
    ps = list(_model().parameters())
    h = Adam(ps).hypers[0]
    assert (h["mom"], h["sqr_mom"], h["eps"], h["wd"]) == (0.9, 0.99, 1e-5, 0.01)
    assert RAdam(ps).hypers[0]["wd"] == 0.0
    assert SGD(ps).hypers[0]["mom"] == 0.0


@pytest.mark.parametrize("factory", [partial(SGD, mom=0.9, wd=0.1), Adam, RAdam])
def test_foreach_identical_to_per_param(factory):
    m1, m2 = _model(), _model()
    o1, o2 = factory(list(m1.parameters()), lr=0.01, foreach=True), factory(list(m2.parameters()), lr=0.01,
                                                                            foreach=False)
    assert o1.foreach and not o2.foreach
    m3 = copy.deepcopy(m1)
    o3 = factory(list(m3.parameters()), lr=0.01, foreach=True)
    o3.foreach_chunk = 20  # several cache-sized passes instead of one
    assert len(o3._chunks(list(m3.parameters()))) > 2
    for a, b, c in zip(_run(m1, o1, n=8), _run(m2, o2, n=8), _run(m3, o3, n=8)):
        assert torch.equal(a, b) and torch.equal(a, c)


def test_foreach_auto_falls_back_for_plain_partials():
    ps = list(_model().parameters())
    opt = Optimizer(ps, [partial(average_grad, dampening=True), step_stat, sgd_step], lr=0.1, mom=0.9)
    assert opt.foreach is False  # a bare partial has no vectorised form
    with pytest.raises(ValueError, match="no vectorised form"):
        Optimizer(ps, [lambda p, lr, **kw: None], lr=0.1, foreach=True)


def test_custom_stepper_and_defaults_merge():
    calls = []

    def count(p, lr, n=0, **kwargs):
        calls.append(lr)
        return {"n": n + 1}

    count.defaults = {"extra": 3}
    m = _model()
    opt = Optimizer(m.parameters(), [count, sgd_step], lr=0.5)
    assert opt.hypers[0]["extra"] == 3 and opt.foreach is False
    _run(m, opt, n=2)
    assert all(s["n"] == 2 for s in opt.state.values())


def test_step_with_closure_returns_loss():
    m = _model()
    opt = SGD(m.parameters(), lr=0.1)
    x, y = torch.randn(4, 5), torch.randint(0, 3, (4,))

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(m(x), y)
        loss.backward()
        return loss

    l0 = opt.step(closure)
    l1 = opt.step(closure)
    assert l1 < l0


def _groups(m):
    return [list(m[0].parameters()), list(m[1].parameters()), list(m[3].parameters())]


def test_set_hyper_slice_semantics():
    opt = Adam(_groups(_model()), lr=1e-3)
    opt.set_hyper("lr", slice(1e-4, 1e-2))
    assert [h["lr"] for h in opt.hypers] == pytest.approx([1e-4, 1e-3, 1e-2])
    opt.set_hyper("lr", slice(1e-2))
    assert [h["lr"] for h in opt.hypers] == pytest.approx([1e-3, 1e-3, 1e-2])
    opt.set_hyper("mom", 0.8)
    assert [h["mom"] for h in opt.hypers] == [0.8] * 3
    opt.set_hypers(wd=[0.0, 0.1, 0.2])
    assert [h["wd"] for h in opt.hypers] == [0.0, 0.1, 0.2]
    opt.set_hyper("lr", torch.tensor([1.0, 2.0, 3.0]))
    assert [h["lr"] for h in opt.hypers] == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="2 values for 'lr' but there are 3 parameter groups"):
        opt.set_hyper("lr", [1, 2])
    assert even_mults(1e-3, 1e-1, 3) == pytest.approx([1e-3, 1e-2, 1e-1])


def test_hyper_per_group_is_the_public_rule_optimizers_share():
    """Plugins with their own parameter groups (the GAN optimizer) expand values through this function."""
    from torchloom import hyper_per_group

    assert hyper_per_group("lr", slice(1e-3, 1e-1), 3) == pytest.approx([1e-3, 1e-2, 1e-1])
    assert hyper_per_group("lr", slice(1e-2), 2) == pytest.approx([1e-3, 1e-2])
    assert hyper_per_group("mom", 0.9, 2) == [0.9, 0.9]
    assert hyper_per_group("wd", torch.tensor([[0.0], [0.1]]), 2) == pytest.approx([0.0, 0.1])
    with pytest.raises(ValueError, match="3 values for 'lr' but there are 2 parameter groups"):
        hyper_per_group("lr", [1, 2, 3], 2)


def test_param_groups_torch_compatible_and_write_through():
    opt = Adam(_groups(_model()), lr=1e-3)
    pgs = opt.param_groups
    assert len(pgs) == 3 and pgs[0]["lr"] == 1e-3 and isinstance(pgs[0]["params"][0], torch.Tensor)
    pgs[1]["lr"] = 0.5
    assert opt.hypers[1]["lr"] == 0.5


def test_freeze_keeps_force_train_and_unfreeze():
    m = _model()
    opt = Adam(_groups(m), lr=1e-3)
    set_norm_bias_flags(opt, m, wd_bn_bias=False, train_bn=True)
    opt.freeze()
    assert not any(p.requires_grad for p in m[0].parameters())
    assert all(p.requires_grad for p in m[1].parameters())  # BatchNorm: force_train
    assert all(p.requires_grad for p in m[3].parameters())
    opt.freeze_to(2)
    assert opt.frozen_idx == 2
    opt.unfreeze()
    assert all(p.requires_grad for p in m.parameters())
    with pytest.warns(UserWarning, match="whole model is frozen"):
        opt.freeze_to(3)


def test_do_wd_flag_skips_norm_and_bias():
    m = _model()
    opt = SGD(m.parameters(), lr=0.1, wd=0.5)
    set_norm_bias_flags(opt, m, wd_bn_bias=False, train_bn=False)
    assert {id(p) for p in norm_bias_params(m)} == {id(m[0].bias), id(m[1].weight), id(m[1].bias), id(m[3].bias)}
    before = {n: p.detach().clone() for n, p in m.named_parameters()}
    for p in m.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    assert torch.equal(m[0].bias, before["0.bias"]) and torch.equal(m[1].weight, before["1.weight"])
    torch.testing.assert_close(m[0].weight, before["0.weight"] * (1 - 0.1 * 0.5))


def test_clear_state_keeps_flags():
    m = _model()
    opt = Adam(m.parameters(), lr=1e-2)
    set_norm_bias_flags(opt, m)
    _run(m, opt, n=2)
    opt.clear_state()
    assert opt.state[m[1].weight] == {"do_wd": False, "force_train": True}
    assert opt.state[m[0].weight] == {}


def test_state_dict_roundtrip_continues_identically():
    m1 = _model()
    o1 = Adam(_groups(m1), lr=1e-2)
    _run(m1, o1, n=3)
    m2 = copy.deepcopy(m1)
    o2 = Adam(_groups(m2), lr=5.0)
    o2.load_state_dict(o1.state_dict())
    assert o2.hypers[0]["lr"] == 1e-2
    for a, b in zip(_run(m1, o1, n=3, seed=7), _run(m2, o2, n=3, seed=7)):
        assert torch.equal(a, b)


def test_load_state_dict_mismatch_is_clear():
    o1 = Adam(_groups(_model()), lr=1e-2)
    o2 = Adam(_model().parameters(), lr=1e-2)
    with pytest.raises(ValueError, match="3 parameter groups.*this optimizer has 1 groups"):
        o2.load_state_dict(o1.state_dict())


def test_bad_params_are_clear_errors():
    with pytest.raises(ValueError, match="empty parameter list"):
        Adam([])
    p = nn.Parameter(torch.ones(2))
    with pytest.raises(ValueError, match="more than one group"):
        Adam([[p], [p]])
    single = Adam([p])
    single.freeze()  # one group: nothing to freeze (fastai's behaviour)
    assert p.requires_grad


def test_torch_style_group_dicts():
    m = _model()
    opt = SGD([{"params": m[0].parameters(), "lr": 0.5}, {"params": m[3].parameters()}], lr=0.1)
    assert [h["lr"] for h in opt.hypers] == [0.5, 0.1]


# --- OptimWrapper -------------------------------------------------------------------------------

def test_wrapper_maps_hyper_names():
    m = _model()
    opt = OptimWrapper(_groups(m), opt=torch.optim.AdamW, lr=1e-3, mom=0.8, sqr_mom=0.95, wd=0.1)
    g = opt.opt.param_groups[0]
    assert g["betas"] == (0.8, 0.95) and g["weight_decay"] == 0.1
    assert opt.hypers[0]["mom"] == 0.8 and opt.hypers[0]["sqr_mom"] == 0.95 and opt.hypers[0]["wd"] == 0.1
    opt.set_hyper("mom", 0.85)
    opt.set_hyper("lr", slice(1e-5, 1e-3))
    assert opt.opt.param_groups[2]["betas"] == (0.85, 0.95)
    assert [g["lr"] for g in opt.opt.param_groups] == pytest.approx([1e-5, 1e-4, 1e-3])
    sgd = OptimWrapper(m.parameters(), opt=torch.optim.SGD, lr=0.1, mom=0.9)
    assert sgd.opt.param_groups[0]["momentum"] == 0.9 and dict(sgd.hypers[0])["mom"] == 0.9


def test_wrapper_trains_like_torch_and_roundtrips_state():
    m1, m2 = _model(), _model()
    a = _run(m1, OptimWrapper(m1.parameters(), opt=torch.optim.AdamW, lr=1e-2))
    b = _run(m2, torch.optim.AdamW(m2.parameters(), lr=1e-2))
    for x, y in zip(a, b):
        assert torch.equal(x, y)
    m3 = _model()
    o3 = OptimWrapper(_groups(m3), opt=torch.optim.SGD, lr=0.1, mom=0.9)
    set_norm_bias_flags(o3, m3)
    _run(m3, o3, n=2)
    o4 = OptimWrapper(_groups(copy.deepcopy(m3)), opt=torch.optim.SGD, lr=0.1, mom=0.9)
    o4.load_state_dict(o3.state_dict())
    assert len(o4.opt.state) == len(o3.opt.state)
    o4.freeze()
    assert o4.param_lists[1][0].requires_grad and not o4.param_lists[0][0].requires_grad
    with pytest.raises(ValueError, match="parameter groups"):
        OptimWrapper(m3.parameters(), opt=torch.optim.SGD, lr=0.1).load_state_dict(o3.state_dict())


def test_wrapper_accepts_built_optimizer():
    m = _model()
    built = torch.optim.SGD(m.parameters(), lr=0.3)
    w = OptimWrapper(opt=built)
    assert w.hypers[0]["lr"] == 0.3 and w.param_groups is built.param_groups
    with pytest.raises(ValueError, match="built optimizer"):
        OptimWrapper(m.parameters(), opt=built)


def test_wrapper_zero_grad_clears_like_torch():
    m = _model()
    w = OptimWrapper(m.parameters(), opt=torch.optim.SGD, lr=0.1)
    m(torch.randn(4, 5)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    w.zero_grad(set_to_none=False)  # torch's own path: zeroed tensors stay
    assert all(p.grad is not None and not p.grad.any() for p in m.parameters())
    w.zero_grad()
    assert all(p.grad is None for p in m.parameters())

    class KeepsGrads(torch.optim.SGD):  # an optimizer with its own zero_grad is always asked
        def zero_grad(self, set_to_none: bool = True) -> None:
            self.asked = set_to_none

    m(torch.randn(4, 5)).sum().backward()
    kept = OptimWrapper(m.parameters(), opt=KeepsGrads, lr=0.1)
    kept.zero_grad()
    assert kept.opt.asked is True and all(p.grad is not None for p in m.parameters())


def test_wrapper_zero_grad_keeps_the_profiler_range():
    m = _model()
    w = OptimWrapper(m.parameters(), opt=torch.optim.SGD, lr=0.1)
    m(torch.randn(4, 5)).sum().backward()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        w.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    assert any("zero_grad" in e.name for e in prof.events())


# --- Lookahead ----------------------------------------------------------------------------------

def test_lookahead_interpolates_every_k_steps():
    from torchloom.optim._optimizer import Lookahead, ranger

    torch.manual_seed(0)
    p = nn.Parameter(torch.zeros(3))
    opt = Lookahead(SGD([p], lr=1.0), k=2, alpha=0.5)
    p.grad = -torch.ones(3)
    opt.step()
    assert torch.equal(p.detach(), torch.ones(3))  # a fast step
    opt.step()  # fast reaches 2, then slow = 0 + 0.5*(2-0) = 1 and fast restarts there
    assert torch.equal(p.detach(), torch.ones(3)) and torch.equal(opt.slow_weights[0][0], torch.ones(3))
    opt.set_hyper("lr", 2.0)
    assert opt.hypers[0]["lr"] == 2.0
    sd = opt.state_dict()
    q = nn.Parameter(p.detach().clone())
    other = Lookahead(SGD([q], lr=2.0), k=2, alpha=0.5)
    other.load_state_dict(sd)
    assert other.count == 2 and torch.equal(other.slow_weights[0][0], torch.ones(3))
    m = _model()
    r = ranger(m.parameters(), lr=1e-3)
    _run(m, r, n=7)
    assert r.count == 7 and r.hypers[0]["mom"] == 0.95
    with pytest.raises(ValueError, match="k >= 1"):
        Lookahead(SGD([p], lr=1.0), k=0)


def test_works_with_torch_grad_scaler():
    m = _model(bn=False)
    opt = Adam(m.parameters(), lr=1e-2)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    w0 = m[0].weight.detach().clone()
    loss = m(torch.randn(4, 5)).sum()
    scaler.scale(loss).backward()
    scaler.unscale_(opt)  # walks opt.param_groups
    assert m[0].weight.grad.abs().max() < 100
    scaler.step(opt)
    scaler.update()
    assert not torch.equal(w0, m[0].weight)
