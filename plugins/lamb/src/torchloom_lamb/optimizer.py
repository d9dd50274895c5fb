"""LAMB (You et al. 2019, "Large Batch Optimization for Deep Learning") as a torchloom stepper.

LAMB is Adam with a per-layer *trust ratio*: each parameter tensor's Adam update is rescaled so its
norm is proportional to the norm of the weights, which keeps very large batches (and so very large
learning rates) stable. Following fastai, weight decay is decoupled (applied by the kernel's
``weight_decay`` stepper before the LAMB step) rather than folded into the update as in the paper;
with ``wd=0`` the two are the same algorithm.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from torchloom import (
    Optimizer,
    average_grad,
    average_sqr_grad,
    bind_stepper,
    l2_reg,
    step_stat,
    weight_decay,
)

__all__ = ["MAX_TRUST", "Lamb", "lamb_step", "trust_ratio"]

MAX_TRUST = 10.0  # fastai's clamp of the trust ratio (the paper's upper bound gamma_u)


def trust_ratio(w_norm: Tensor, u_norm: Tensor, max_trust: float = MAX_TRUST) -> Tensor:
    """``clamp(|w|/|u|, 0, max_trust)``, or 1 when either norm is 0 (fresh zero-init layers, zero grads).

    Stays a tensor so no device->host sync happens in the optimizer step.
    """
    ratio = (w_norm / u_norm).clamp(0.0, max_trust)
    return torch.where((w_norm == 0) | (u_norm == 0), torch.ones_like(ratio), ratio)


def _adam_update(grad_avg: Tensor, sqr_avg: Tensor, mom: float, sqr_mom: float, step: int, eps: float
                 ) -> Tensor:
    """Bias-corrected Adam direction ``m_hat / (sqrt(v_hat) + eps)`` (both averages are damped)."""
    debias1 = 1 - mom**step
    debias2 = 1 - sqr_mom**step
    return (grad_avg / debias1) / ((sqr_avg / debias2).sqrt() + eps)


def _lamb_step_foreach(params: list[Tensor], states: list[dict[str, Any]], lr: float, mom: float,
                       sqr_mom: float, eps: float, max_trust: float = MAX_TRUST, **kwargs: Any) -> None:
    """Vectorised LAMB step over a parameter group (``torch._foreach_*``; one group per step count)."""
    by_step: dict[int, list[int]] = {}
    for i, s in enumerate(states):
        by_step.setdefault(s["step"], []).append(i)
    for step, idx in by_step.items():
        ps = [params[i] for i in idx]
        avgs = [states[i]["grad_avg"] for i in idx]
        sqrs = [states[i]["sqr_avg"] for i in idx]
        debias1 = 1 - mom**step
        denom = torch._foreach_div(sqrs, 1 - sqr_mom**step)
        torch._foreach_sqrt_(denom)
        torch._foreach_add_(denom, eps)
        upd = torch._foreach_div(avgs, denom)  # debias1 is folded into the norms and the scale below
        w_norms = torch.stack(torch._foreach_norm(ps))
        u_norms = torch.stack(torch._foreach_norm(upd)) / debias1
        scales = trust_ratio(w_norms, u_norms, max_trust) * (-lr / debias1)  # all layers' ratios at once
        torch._foreach_mul_(upd, scales.unbind())
        torch._foreach_add_(ps, upd)


def lamb_step(p: Tensor, lr: float, mom: float, step: int, sqr_mom: float, grad_avg: Tensor,
              sqr_avg: Tensor, eps: float, max_trust: float = MAX_TRUST, **kwargs: Any) -> None:
    """LAMB step: the bias-corrected Adam update scaled by the layer's trust ratio ``|p| / |update|``.

    Needs the statistics ``grad_avg`` (damped ``average_grad``), ``sqr_avg`` and ``step``.
    """
    upd = _adam_update(grad_avg, sqr_avg, mom, sqr_mom, step, eps)
    q = trust_ratio(p.detach().norm(), upd.norm(), max_trust)
    p.data.add_(upd * (-lr * q))


lamb_step.foreach = _lamb_step_foreach  # type: ignore[attr-defined]
lamb_step.defaults = {"eps": 1e-5, "max_trust": MAX_TRUST}  # type: ignore[attr-defined]


def Lamb(params: Any, lr: float = 1e-3, mom: float = 0.9, sqr_mom: float = 0.99, eps: float = 1e-5,
         wd: float = 0.0, decouple_wd: bool = True, max_trust: float = MAX_TRUST,
         foreach: bool | None = None) -> Optimizer:
    """LAMB optimizer with fastai's defaults (``mom=0.9, sqr_mom=0.99, eps=1e-5, wd=0``).

    ``decouple_wd=False`` uses L2 regularisation (``grad += wd*p``) instead of decoupled weight decay.
    """
    if not 0.0 <= mom < 1.0:
        raise ValueError(f"Lamb: mom must be in [0, 1), got {mom}")
    if not 0.0 <= sqr_mom < 1.0:
        raise ValueError(f"Lamb: sqr_mom must be in [0, 1), got {sqr_mom}")
    if max_trust <= 0:
        raise ValueError(f"Lamb: max_trust must be positive, got {max_trust}")
    steppers = [weight_decay if decouple_wd else l2_reg, bind_stepper(average_grad, dampening=True),
                average_sqr_grad, step_stat, lamb_step]
    return Optimizer(params, steppers, lr=lr, mom=mom, sqr_mom=sqr_mom, eps=eps, wd=wd, max_trust=max_trust,
                     foreach=foreach)
