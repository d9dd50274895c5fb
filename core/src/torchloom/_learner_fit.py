"""The Learner's fit recipes (``fit_one_cycle``, ``fit_flat_cos``, ``fit_sgdr``, ``fine_tune``), ``lr_find`` and
freezing: functions of a learner that its methods of the same names call.
"""
from __future__ import annotations

import collections
import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from torchloom.callbacks._base import Callback
from torchloom.callbacks._schedule import (
    LRFinder,
    ParamScheduler,
    SchedCos,
    _func_name,
    combine_scheds,
    combined_cos,
    valley,
)

if TYPE_CHECKING:
    from torchloom._learner import Learner



def _lr_array(learn: Learner, lr: Any) -> np.ndarray:
    if learn.opt is None:
        learn.create_opt()
    learn.opt.set_hyper("lr", learn.lr if lr is None else lr)
    return np.array([h["lr"] for h in learn.opt.hypers], dtype=float)


def _cbs(first: Callback, cbs: Any) -> list:
    if cbs is None:
        return [first]
    return [first, *(cbs if isinstance(cbs, (list, tuple)) else [cbs])]


def fit_one_cycle(learn: Learner, n_epoch: int, lr_max: Any = None, div: float = 25.0, div_final: float = 1e5,
                  pct_start: float = 0.25, wd: float | None = None, moms: Sequence[float] | None = None,
                  cbs: Any = None, reset_opt: bool = False, start_epoch: int = 0, resume: Any = None) -> None:
    """1cycle policy: lr warms up (cosine) to ``lr_max`` over ``pct_start``, then anneals to
    ``lr_max/div_final``; momentum goes the opposite way through ``moms``."""
    lr_max = _lr_array(learn, lr_max)
    moms = learn.moms if moms is None else moms
    scheds = {"lr": combined_cos(pct_start, lr_max / div, lr_max, lr_max / div_final),
              "mom": combined_cos(pct_start, *moms)}
    learn.fit(n_epoch, cbs=_cbs(ParamScheduler(scheds), cbs), reset_opt=reset_opt, wd=wd,
              start_epoch=start_epoch, resume=resume)


def fit_flat_cos(learn: Learner, n_epoch: int, lr: Any = None, div_final: float = 1e5, pct_start: float = 0.75,
                 wd: float | None = None, cbs: Any = None, reset_opt: bool = False, start_epoch: int = 0,
                 resume: Any = None) -> None:
    """Flat learning rate for ``pct_start`` of training, then cosine annealing."""
    lr = _lr_array(learn, lr)
    scheds = {"lr": combined_cos(pct_start, lr, lr, lr / div_final)}
    learn.fit(n_epoch, cbs=_cbs(ParamScheduler(scheds), cbs), reset_opt=reset_opt, wd=wd,
              start_epoch=start_epoch, resume=resume)


def fit_sgdr(learn: Learner, n_cycles: int, cycle_len: int, lr_max: Any = None, cycle_mult: int = 2,
             cbs: Any = None, reset_opt: bool = False, wd: float | None = None, start_epoch: int = 0,
             resume: Any = None) -> None:
    """SGD with warm restarts: ``n_cycles`` cosine cycles, each ``cycle_mult`` times longer."""
    lr_max = _lr_array(learn, lr_max)
    n_epoch = cycle_len * n_cycles if cycle_mult == 1 else cycle_len * (cycle_mult**n_cycles - 1) // (
        cycle_mult - 1)
    pcts = [cycle_len * cycle_mult**i / n_epoch for i in range(n_cycles)]
    scheds = {"lr": combine_scheds(pcts, [SchedCos(lr_max, 0) for _ in range(n_cycles)])}
    learn.fit(n_epoch, cbs=_cbs(ParamScheduler(scheds), cbs), reset_opt=reset_opt, wd=wd,
              start_epoch=start_epoch, resume=resume)


def fine_tune(learn: Learner, epochs: int, base_lr: float = 2e-3, freeze_epochs: int = 1, lr_mult: float = 100,
              pct_start: float = 0.3, div: float = 5.0, **kwargs: Any) -> None:
    """Transfer learning: train the head frozen, then everything with discriminative rates."""
    learn.freeze()
    learn.fit_one_cycle(freeze_epochs, slice(base_lr), pct_start=0.99, **kwargs)
    base_lr /= 2
    learn.unfreeze()
    learn.fit_one_cycle(epochs, slice(base_lr / lr_mult, base_lr), pct_start=pct_start, div=div, **kwargs)


def lr_find(learn: Learner, start_lr: float = 1e-7, end_lr: float = 10, num_it: int = 100, stop_div: bool = True,
            show_plot: bool | None = None, suggest_funcs: Any = (valley,)) -> Any:
    """Run the LR range test; weights and optimizer are restored after. Returns a namedtuple of
    suggested learning rates, one field per function in ``suggest_funcs``. ``show_plot``: draw the
    curve (default: in a notebook); ``learn.recorder.plot_lr_find()`` draws it again later."""
    if learn.opt is None:
        learn.create_opt()
    n_batches = len(learn.dls.train)
    if n_batches == 0:
        raise ValueError("lr_find needs a non-empty training DataLoader")
    # an upper bound: LRFinder stops after num_it batches, however long an epoch is (sharded under DDP)
    n_epoch = num_it + 1
    cb = LRFinder(start_lr=start_lr, end_lr=end_lr, num_it=num_it, stop_div=stop_div)
    quiet = getattr(learn, "no_logging", None)
    with quiet() if quiet is not None else contextlib.nullcontext():
        learn.fit(n_epoch, cbs=[cb])
    learn.lr_finder = cb
    if suggest_funcs is None:
        return None
    funcs = suggest_funcs if isinstance(suggest_funcs, (list, tuple)) else (suggest_funcs,)
    lrs = torch.tensor(cb.lrs[num_it // 10: -5], dtype=torch.float64)
    losses = torch.tensor(cb.losses[num_it // 10: -5], dtype=torch.float64)
    nan = torch.nonzero(torch.isnan(losses))
    if len(nan):
        lrs, losses = lrs[: int(nan[0])], losses[: int(nan[0])]
    if len(losses) < 3:
        raise ValueError(f"lr_find recorded only {len(cb.losses)} losses (the loss diverged or the "
                         f"DataLoader is too short); use a smaller end_lr or a larger num_it")
    names = [_func_name(f) for f in funcs]
    results = [f(lrs, losses, num_it) for f in funcs]
    cb.suggestions = dict(zip(names, [r[1] for r in results]))
    if show_plot is None:
        from torchloom._plotting import in_notebook

        show_plot = in_notebook()
    if show_plot:
        from torchloom._plotting import plot_lr_find

        plot_lr_find(cb)
    return collections.namedtuple("SuggestedLRs", names)(*[r[0] for r in results])


def freeze_to(learn: Learner, n: int) -> None:
    """Train only parameter groups ``n`` onwards (norm layers too if ``train_bn``); resets optimizer stats."""
    if learn.opt is None:
        learn.create_opt()
    learn.opt.freeze_to(n)
    learn.opt.clear_state()


def freeze(learn: Learner) -> None:
    learn.freeze_to(-1)


def unfreeze(learn: Learner) -> None:
    learn.freeze_to(0)
