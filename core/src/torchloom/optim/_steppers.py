"""Optimizer steppers: the stats + steps of fastai's optimizer design, as plain functions.

Each stepper is ``f(p, lr, **hypers_and_state) -> dict | None``; a returned dict is merged into the
parameter's state. ``f.defaults`` holds the hyper-parameters it introduces. A stepper may also carry
``f.foreach(params, states, **hypers)`` working on a whole parameter group at once with
``torch._foreach_*`` kernels (it updates ``states`` in place); the Optimizer uses that vectorised form
when every stepper of the optimizer has one.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "adam_step", "average_grad", "average_sqr_grad", "bind_stepper", "debias", "l2_reg", "momentum_step",
    "radam_step", "sgd_step", "step_stat", "weight_decay",
]

Stepper = Callable[..., "dict[str, Any] | None"]


def _foreach(fn: Callable[..., None]) -> Callable[[Stepper], Stepper]:
    """Attach ``fn`` as the vectorised form of the decorated stepper."""

    def deco(f: Stepper) -> Stepper:
        f.foreach = fn  # type: ignore[attr-defined]
        return f

    return deco


def bind_stepper(f: Stepper, **kwargs: Any) -> Stepper:
    """``functools.partial`` for steppers that keeps ``defaults``, ``foreach`` and the name.

    fastai composes Adam from ``partial(average_grad, dampening=True)``; a bare partial would lose
    the vectorised form, so the Optimizer would fall back to the per-parameter loop.
    """
    bound = functools.partial(f, **kwargs)
    functools.update_wrapper(bound, f)  # copies __name__, __doc__ and __dict__ (defaults, foreach)
    if hasattr(f, "foreach"):
        bound.foreach = functools.partial(f.foreach, **kwargs)  # type: ignore[attr-defined]
    return bound


def _grads(params: list[Tensor]) -> list[Tensor]:
    return [p.grad for p in params]  # type: ignore[misc]


def _wd_params(params: list[Tensor], states: list[dict]) -> list[Tensor]:
    return [p for p, s in zip(params, states) if s.get("do_wd", True)]


# --- weight decay -------------------------------------------------------------------------------

def _weight_decay_foreach(params, states, lr, wd, **kwargs) -> None:
    ps = _wd_params(params, states)
    if wd != 0 and ps:
        torch._foreach_mul_(ps, 1 - lr * wd)


@_foreach(_weight_decay_foreach)
def weight_decay(p: Tensor, lr: float, wd: float, do_wd: bool = True, **kwargs: Any) -> None:
    """Decoupled ("true") weight decay: ``p *= 1 - lr*wd`` (skipped when the state says ``do_wd=False``)."""
    if do_wd and wd != 0:
        p.data.mul_(1 - lr * wd)


weight_decay.defaults = {"wd": 0.0}  # type: ignore[attr-defined]


def _l2_reg_foreach(params, states, lr, wd, **kwargs) -> None:
    ps = _wd_params(params, states)
    if wd != 0 and ps:
        torch._foreach_add_(_grads(ps), ps, alpha=wd)


@_foreach(_l2_reg_foreach)
def l2_reg(p: Tensor, lr: float, wd: float, do_wd: bool = True, **kwargs: Any) -> None:
    """L2 regularisation: ``grad += wd*p`` (what ``torch.optim.SGD(weight_decay=...)`` does)."""
    if do_wd and wd != 0:
        p.grad.data.add_(p.data, alpha=wd)


l2_reg.defaults = {"wd": 0.0}  # type: ignore[attr-defined]


# --- statistics ---------------------------------------------------------------------------------

def _buffers(params: list[Tensor], states: list[dict], key: str) -> list[Tensor]:
    out = []
    for p, s in zip(params, states):
        buf = s.get(key)
        if buf is None:
            buf = s[key] = torch.zeros_like(p, memory_format=torch.preserve_format)
        out.append(buf)
    return out


def _average_grad_foreach(params, states, mom, dampening=False, **kwargs) -> None:
    avgs = _buffers(params, states, "grad_avg")
    if dampening:  # one pass: avg + (1-mom)*(grad-avg)
        torch._foreach_lerp_(avgs, _grads(params), 1 - mom)
    else:
        torch._foreach_mul_(avgs, mom)
        torch._foreach_add_(avgs, _grads(params))


@_foreach(_average_grad_foreach)
def average_grad(p: Tensor, mom: float, dampening: bool = False, grad_avg: Tensor | None = None,
                 **kwargs: Any) -> dict[str, Tensor]:
    """Moving average of the gradients (``grad_avg``), damped by ``1-mom`` when ``dampening``."""
    if grad_avg is None:
        grad_avg = torch.zeros_like(p.grad.data)
    if dampening:
        grad_avg.lerp_(p.grad.data, 1 - mom)
    else:
        grad_avg.mul_(mom).add_(p.grad.data)
    return {"grad_avg": grad_avg}


average_grad.defaults = {"mom": 0.9}  # type: ignore[attr-defined]


def _average_sqr_grad_foreach(params, states, sqr_mom, dampening=True, **kwargs) -> None:
    sqrs = _buffers(params, states, "sqr_avg")
    grads = _grads(params)
    torch._foreach_mul_(sqrs, sqr_mom)
    torch._foreach_addcmul_(sqrs, grads, grads, value=1 - sqr_mom if dampening else 1.0)


@_foreach(_average_sqr_grad_foreach)
def average_sqr_grad(p: Tensor, sqr_mom: float, dampening: bool = True, sqr_avg: Tensor | None = None,
                     **kwargs: Any) -> dict[str, Tensor]:
    """Moving average of the squared gradients (``sqr_avg``)."""
    if sqr_avg is None:
        sqr_avg = torch.zeros_like(p.grad.data)
    sqr_avg.mul_(sqr_mom).addcmul_(p.grad.data, p.grad.data, value=1 - sqr_mom if dampening else 1.0)
    return {"sqr_avg": sqr_avg}


average_sqr_grad.defaults = {"sqr_mom": 0.99}  # type: ignore[attr-defined]


def _step_stat_foreach(params, states, **kwargs) -> None:
    for s in states:
        s["step"] = s.get("step", 0) + 1


@_foreach(_step_stat_foreach)
def step_stat(p: Tensor, step: int = 0, **kwargs: Any) -> dict[str, int]:
    """Count the steps taken for this parameter (needed for bias correction)."""
    return {"step": step + 1}


# --- steps --------------------------------------------------------------------------------------

def _sgd_step_foreach(params, states, lr, **kwargs) -> None:
    torch._foreach_add_(params, _grads(params), alpha=-lr)


@_foreach(_sgd_step_foreach)
def sgd_step(p: Tensor, lr: float, **kwargs: Any) -> None:
    """Plain SGD step ``p -= lr*grad``."""
    p.data.add_(p.grad.data, alpha=-lr)


def _momentum_step_foreach(params, states, lr, **kwargs) -> None:
    torch._foreach_add_(params, [s["grad_avg"] for s in states], alpha=-lr)


@_foreach(_momentum_step_foreach)
def momentum_step(p: Tensor, lr: float, grad_avg: Tensor, **kwargs: Any) -> None:
    """SGD step with momentum: ``p -= lr*grad_avg``."""
    p.data.add_(grad_avg, alpha=-lr)


def debias(mom: float, damp: float, step: int) -> float:
    """Bias-correction factor of a (damped) moving average after ``step`` steps."""
    return damp * (1 - mom**step) / (1 - mom)


def _by_step(params: list[Tensor], states: list[dict]) -> dict[int, tuple[list[Tensor], list[dict]]]:
    """Group parameters by their step count (they differ only if some missed gradients)."""
    groups: dict[int, tuple[list[Tensor], list[dict]]] = {}
    for p, s in zip(params, states):
        ps, ss = groups.setdefault(s["step"], ([], []))
        ps.append(p)
        ss.append(s)
    return groups


def _adam_step_foreach(params, states, lr, mom, sqr_mom, eps, **kwargs) -> None:
    for step, (ps, ss) in _by_step(params, states).items():
        debias1 = debias(mom, 1 - mom, step)
        debias2 = debias(sqr_mom, 1 - sqr_mom, step)
        denom = torch._foreach_div([s["sqr_avg"] for s in ss], debias2)
        torch._foreach_sqrt_(denom)
        torch._foreach_add_(denom, eps)
        torch._foreach_addcdiv_(ps, [s["grad_avg"] for s in ss], denom, value=-lr / debias1)


@_foreach(_adam_step_foreach)
def adam_step(p: Tensor, lr: float, mom: float, step: int, sqr_mom: float, grad_avg: Tensor,
              sqr_avg: Tensor, eps: float, **kwargs: Any) -> None:
    """Adam step with bias correction (both averages damped)."""
    debias1 = debias(mom, 1 - mom, step)
    debias2 = debias(sqr_mom, 1 - sqr_mom, step)
    p.data.addcdiv_(grad_avg, (sqr_avg / debias2).sqrt() + eps, value=-lr / debias1)


adam_step.defaults = {"eps": 1e-5}  # type: ignore[attr-defined]


def _radam_rect(sqr_mom: float, step: int) -> float | None:
    """RAdam's variance rectification term, or None while the variance is intractable (r <= 5)."""
    r_inf = 2 / (1 - sqr_mom) - 1
    r = r_inf - 2 * step * sqr_mom**step / (1 - sqr_mom**step)
    if r <= 5:
        return None
    return math.sqrt(((r - 4) * (r - 2) * r_inf) / ((r_inf - 4) * (r_inf - 2) * r))


def _radam_step_foreach(params, states, lr, mom, sqr_mom, eps, beta=0.0, **kwargs) -> None:
    for step, (ps, ss) in _by_step(params, states).items():
        debias1 = debias(mom, 1 - mom, step)
        debias2 = debias(sqr_mom, 1 - sqr_mom, step)
        avgs = [s["grad_avg"] for s in ss]
        v = _radam_rect(sqr_mom, step)
        if v is None:
            torch._foreach_add_(ps, avgs, alpha=-lr / debias1)
            continue
        denom = torch._foreach_div([s["sqr_avg"] for s in ss], debias2)
        torch._foreach_sqrt_(denom)
        if eps:
            torch._foreach_add_(denom, eps)
        if beta:
            denom = [torch.nn.functional.softplus(d, beta) for d in denom]
        torch._foreach_addcdiv_(ps, avgs, denom, value=-lr * v / debias1)


@_foreach(_radam_step_foreach)
def radam_step(p: Tensor, lr: float, mom: float, step: int, sqr_mom: float, grad_avg: Tensor,
               sqr_avg: Tensor, eps: float, beta: float = 0.0, **kwargs: Any) -> None:
    """RAdam step: rectified Adam, SGD with momentum while the variance estimate is unreliable.

    ``beta > 0`` smooths the denominator with softplus (SAdam)."""
    debias1 = debias(mom, 1 - mom, step)
    debias2 = debias(sqr_mom, 1 - sqr_mom, step)
    v = _radam_rect(sqr_mom, step)
    if v is None:
        p.data.add_(grad_avg, alpha=-lr / debias1)
        return
    denom = (sqr_avg / debias2).sqrt()
    if eps:
        denom += eps
    if beta:
        denom = torch.nn.functional.softplus(denom, beta)
    p.data.addcdiv_(grad_avg, denom, value=-lr * v / debias1)


radam_step.defaults = {"eps": 1e-5, "beta": 0.0}  # type: ignore[attr-defined]
