"""Building the Learner's optimizer: ``opt_func`` (a callable or a registered name) applied to the
splitter's parameter groups, a plain ``torch.optim`` optimizer wrapped, fastai's norm/bias rules set.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from torchloom.optim._optimizer import set_norm_bias_flags
from torchloom.optim._wrapper import OptimWrapper

if TYPE_CHECKING:
    from torchloom._learner import Learner


def resolve_opt_func(learn: Learner) -> Callable[..., Any]:
    """``learn.opt_func``, looked up in the registry (``"optimizer"`` kind) when it is a name."""
    opt_func = learn.opt_func
    if isinstance(opt_func, str):
        from torchloom._plugins.manager import get_registry  # discovery imports pluggy: only when needed

        entry = get_registry().entry("optimizer", opt_func)  # unknown: lists the optimizers, names the kind
        opt_func = entry.load()
    return opt_func


def create_opt(learn: Learner) -> None:
    """Build the optimizer from ``opt_func(splitter(model), lr=lr)`` with fastai's norm/bias rules."""
    opt_func = resolve_opt_func(learn)
    opt = opt_func(learn.splitter(learn.model), lr=learn.lr)
    if isinstance(opt, torch.optim.Optimizer):  # a plain torch optimizer: give it fastai's API
        opt = OptimWrapper(opt=opt)
    if not hasattr(opt, "set_hypers"):
        raise TypeError(f"opt_func returned {type(opt).__name__}, which has no set_hypers: use a torchloom "
                        f"optimizer (Adam, SGD...), OptimWrapper, or a torch.optim optimizer")
    learn.opt = opt
    if hasattr(learn.opt, "_flags") and hasattr(learn.opt, "param_lists") and isinstance(learn.model, nn.Module):
        set_norm_bias_flags(learn.opt, learn.model, learn.wd_bn_bias, learn.train_bn)
