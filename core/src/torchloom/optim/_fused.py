"""``opt_func="fused_adamw"``: torch's AdamW in one fused kernel per step, with fastai's defaults.

torch fuses the whole update of every parameter into a single kernel launch (CUDA, and CPU since
torch 2.4); where its build has no fused path, the multi-tensor ``foreach`` path is used instead.
It runs behind ``OptimWrapper``, so schedules, freezing and discriminative rates work as usual.
"""
from __future__ import annotations

import functools
from typing import Any

import torch

from torchloom.optim._wrapper import OptimWrapper

__all__ = ["FusedAdamW"]


def FusedAdamW(params: Any, lr: float = 1e-3, mom: float = 0.9, sqr_mom: float = 0.99, eps: float = 1e-5,
               wd: float = 0.01) -> OptimWrapper:
    """AdamW (betas ``mom``/``sqr_mom``, decoupled ``wd``) with torch's fused step."""
    params = list(params)
    try:
        torch.optim.AdamW([torch.zeros(1, requires_grad=True)], fused=True)
        opt: Any = functools.partial(torch.optim.AdamW, fused=True)
    except (RuntimeError, TypeError, ValueError):  # no fused kernel in this build: multi-tensor path
        opt = functools.partial(torch.optim.AdamW, foreach=True)
    return OptimWrapper(params, opt=opt, lr=lr, mom=mom, sqr_mom=sqr_mom, eps=eps, wd=wd)
