"""LAMB checked against the algorithm of You et al. 2019 (arXiv:1904.00962, Algorithm 2) on fixed tensors."""
from __future__ import annotations

import math

import pytest
import torch
from torchloom_lamb import MAX_TRUST, Lamb, lamb_step, trust_ratio


def paper_lamb(xs, grads_per_step, lr, beta1, beta2, eps, wd=0.0, gamma_u=MAX_TRUST):
    """Algorithm 2 written out with plain Python floats, one layer (list of floats) at a time.

    With ``wd > 0`` the decay is decoupled as in fastai/AdamW (``x *= 1 - lr*wd`` before the LAMB
    update) instead of the paper's ``r + wd*x`` inside the trust ratio; with ``wd = 0`` this is the paper.
    """
    xs = [list(x) for x in xs]
    m = [[0.0] * len(x) for x in xs]
    v = [[0.0] * len(x) for x in xs]
    for t, grads in enumerate(grads_per_step, start=1):
        for layer, (x, g) in enumerate(zip(xs, grads)):
            x[:] = [xi * (1 - lr * wd) for xi in x]
            m[layer] = [beta1 * mi + (1 - beta1) * gi for mi, gi in zip(m[layer], g)]
            v[layer] = [beta2 * vi + (1 - beta2) * gi * gi for vi, gi in zip(v[layer], g)]
            m_hat = [mi / (1 - beta1**t) for mi in m[layer]]
            v_hat = [vi / (1 - beta2**t) for vi in v[layer]]
            r = [mh / (math.sqrt(vh) + eps) for mh, vh in zip(m_hat, v_hat)]
            x_norm = math.sqrt(sum(xi * xi for xi in x))
            r_norm = math.sqrt(sum(ri * ri for ri in r))
            ratio = 1.0 if x_norm == 0 or r_norm == 0 else min(max(x_norm / r_norm, 0.0), gamma_u)
            x[:] = [xi - lr * ratio * ri for xi, ri in zip(x, r)]
    return xs


X0 = [[0.5, -1.0, 2.0, 0.25, -0.75, 1.5], [0.1, -0.2, 0.3]]  # a 2x3 weight and a bias
GRADS = [
    [[0.3, -0.1, 0.2, 0.05, -0.4, 0.6], [1.0, -0.5, 0.25]],
    [[-0.2, 0.4, 0.1, -0.3, 0.2, 0.1], [0.5, 0.5, -1.0]],
    [[0.1, 0.1, -0.6, 0.2, 0.0, -0.3], [-0.25, 0.75, 0.5]],
]


def run_lamb(foreach, wd=0.0, lr=0.1, n_steps=3):
    w = torch.tensor(X0[0], dtype=torch.float64).reshape(2, 3).requires_grad_()
    b = torch.tensor(X0[1], dtype=torch.float64).requires_grad_()
    opt = Lamb([w, b], lr=lr, mom=0.9, sqr_mom=0.99, eps=1e-5, wd=wd, foreach=foreach)
    assert opt.foreach is foreach
    for grads in GRADS[:n_steps]:
        w.grad = torch.tensor(grads[0], dtype=torch.float64).reshape(2, 3)
        b.grad = torch.tensor(grads[1], dtype=torch.float64)
        opt.step()
    return [w.detach().flatten().tolist(), b.detach().tolist()]


@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("n_steps", [1, 3])
def test_matches_paper_algorithm(foreach, n_steps):
    got = run_lamb(foreach, n_steps=n_steps)
    want = paper_lamb(X0, GRADS[:n_steps], lr=0.1, beta1=0.9, beta2=0.99, eps=1e-5)
    for g, w in zip(got, want):
        assert g == pytest.approx(w, rel=1e-10, abs=1e-12)
    # and the step really moved the weights (a no-op optimizer would fail the comparison above too)
    assert got[0] != pytest.approx(X0[0])


@pytest.mark.parametrize("foreach", [False, True])
def test_decoupled_weight_decay(foreach):
    got = run_lamb(foreach, wd=0.5)
    want = paper_lamb(X0, GRADS, lr=0.1, beta1=0.9, beta2=0.99, eps=1e-5, wd=0.5)
    no_wd = run_lamb(foreach, wd=0.0)
    for g, w in zip(got, want):
        assert g == pytest.approx(w, rel=1e-10, abs=1e-12)
    assert got[0] != pytest.approx(no_wd[0])


def test_l2_reg_variant_adds_wd_to_the_gradient():
    p = torch.tensor([1.0, -2.0], requires_grad=True)
    p.grad = torch.zeros(2)
    opt = Lamb([p], lr=0.1, wd=0.1, decouple_wd=False)
    opt.step()
    # grad = 0 + wd*p = [0.1, -0.2]: the first Adam direction is ~sign(grad) = [1, -1], trust ratio
    # |p|/|u| = sqrt(5)/sqrt(2), so p moves by 0.1*sqrt(5/2) towards 0
    assert opt.state[p]["grad_avg"].tolist() == pytest.approx([0.01, -0.02])
    step = 0.1 * math.sqrt(5 / 2)
    assert p.detach().tolist() == pytest.approx([1.0 - step, -2.0 + step], rel=1e-4)


def test_trust_ratio_clamped_and_one_for_zero_norms():
    assert trust_ratio(torch.tensor(3.0), torch.tensor(1.5)).item() == pytest.approx(2.0)
    assert trust_ratio(torch.tensor(100.0), torch.tensor(1.0)).item() == MAX_TRUST
    assert trust_ratio(torch.tensor(0.0), torch.tensor(1.0)).item() == 1.0
    assert trust_ratio(torch.tensor(1.0), torch.tensor(0.0)).item() == 1.0
    assert trust_ratio(torch.tensor(100.0), torch.tensor(1.0), max_trust=4.0).item() == 4.0


@pytest.mark.parametrize("foreach", [False, True])
def test_zero_initialised_layer_takes_a_plain_adam_step(foreach):
    """|w| = 0 gives ratio 1, so the step is the Adam direction (size ~ lr per coordinate), not 0."""
    p = torch.zeros(4, requires_grad=True)
    p.grad = torch.tensor([1.0, -1.0, 2.0, -2.0])
    Lamb([p], lr=0.01, foreach=foreach).step()
    assert p.detach().tolist() == pytest.approx([-0.01, 0.01, -0.01, 0.01], rel=1e-4)


@pytest.mark.parametrize("foreach", [False, True])
def test_update_norm_is_lr_times_weight_norm(foreach):
    """The defining LAMB property: each layer moves by lr * |w| (trust ratio unclamped), whatever the grad scale."""
    torch.manual_seed(0)
    for scale in (1e-3, 1.0, 1e3):
        p = torch.randn(10, 10, requires_grad=True)
        before = p.detach().clone()
        p.grad = torch.randn(10, 10) * scale
        Lamb([p], lr=0.05, foreach=foreach).step()
        moved = (p.detach() - before).norm().item()
        assert moved == pytest.approx(0.05 * before.norm().item(), rel=1e-4)


def test_layers_at_different_step_counts_vectorised_like_the_loop():
    """A layer that missed gradients has a smaller step count; the foreach path groups by step."""
    torch.manual_seed(1)
    results = []
    for foreach in (False, True):
        torch.manual_seed(1)
        a, b = torch.randn(5, requires_grad=True), torch.randn(3, requires_grad=True)
        opt = Lamb([a, b], lr=0.1, foreach=foreach)
        for i in range(3):
            a.grad = torch.randn(5)
            b.grad = torch.randn(3) if i != 1 else None
            opt.step()
        assert opt.state[a]["step"] == 3 and opt.state[b]["step"] == 2
        results.append(torch.cat([a.detach(), b.detach()]))
    assert torch.allclose(results[0], results[1], atol=1e-6)


def test_lamb_step_defaults_and_errors():
    assert lamb_step.defaults["eps"] == 1e-5
    opt = Lamb([torch.zeros(2, requires_grad=True)])
    h = opt.hypers[0]
    assert (h["mom"], h["sqr_mom"], h["eps"], h["wd"]) == (0.9, 0.99, 1e-5, 0.0)
    with pytest.raises(ValueError, match="mom"):
        Lamb([torch.zeros(2, requires_grad=True)], mom=1.0)
    with pytest.raises(ValueError, match="max_trust"):
        Lamb([torch.zeros(2, requires_grad=True)], max_trust=0)


def test_state_round_trips():
    p = torch.randn(3, requires_grad=True)
    opt = Lamb([p], lr=0.1)
    p.grad = torch.ones(3)
    opt.step()
    q = p.detach().clone().requires_grad_()
    opt2 = Lamb([q], lr=0.1)
    opt2.load_state_dict(opt.state_dict())
    p.grad, q.grad = torch.full((3,), 0.5), torch.full((3,), 0.5)
    opt.step()
    opt2.step()
    assert torch.equal(p.detach(), q.detach())
