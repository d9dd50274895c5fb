"""Hyper-parameter schedules, the ParamScheduler callback and the LRFinder (the fit recipes using them are
in ``torchloom._learner_fit``).

Schedules are callables ``f(pos) -> value`` for ``pos`` in [0, 1]; ``start``/``end`` may be arrays
(one value per parameter group, from discriminative ``slice`` learning rates).
"""
from __future__ import annotations

import bisect
import copy
import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from torchloom.callbacks._base import Callback, CancelFitException, CancelValidException

__all__ = [
    "LRFinder", "ParamScheduler", "SchedCos", "SchedExp", "SchedLin", "SchedNo", "SchedPoly",
    "combine_scheds", "combined_cos", "minimum", "slide", "steep", "valley",
]

Schedule = Callable[[float], Any]


def _arr(v: Any) -> Any:
    return np.asarray(v, dtype=float) if isinstance(v, (list, tuple, np.ndarray)) else v


class _Annealer:
    """A schedule from ``start`` to ``end``; ``pos`` in [0, 1]."""

    def __init__(self, f: Callable[[Any, Any, float], Any], start: Any, end: Any, name: str):
        self.f, self.start, self.end, self.name = f, _arr(start), _arr(end), name

    def __call__(self, pos: float) -> Any:
        return self.f(self.start, self.end, float(pos))

    def __repr__(self) -> str:
        return f"{self.name}({self.start!r}, {self.end!r})"


def SchedLin(start: Any, end: Any) -> Schedule:
    """Linear from ``start`` to ``end``."""
    return _Annealer(lambda s, e, pos: s + pos * (e - s), start, end, "SchedLin")


def SchedCos(start: Any, end: Any) -> Schedule:
    """Cosine from ``start`` to ``end``."""
    return _Annealer(lambda s, e, pos: s + (1 + math.cos(math.pi * (1 - pos))) * (e - s) / 2, start, end, "SchedCos")


def SchedNo(start: Any, end: Any = None) -> Schedule:
    """Constant ``start``."""
    return _Annealer(lambda s, e, pos: s, start, end, "SchedNo")


def SchedExp(start: Any, end: Any) -> Schedule:
    """Exponential from ``start`` to ``end`` (both > 0)."""
    return _Annealer(lambda s, e, pos: s * (e / s) ** pos, start, end, "SchedExp")


def SchedPoly(start: Any, end: Any, power: float) -> Schedule:
    """Polynomial ``start + (end-start) * pos**power``."""
    return _Annealer(lambda s, e, pos: s + (e - s) * pos**power, start, end, f"SchedPoly[{power}]")


def combine_scheds(pcts: Sequence[float], scheds: Sequence[Schedule]) -> Schedule:
    """Run ``scheds[i]`` over the fraction ``pcts[i]`` of training (``pcts`` sum to 1)."""
    if len(pcts) != len(scheds):
        raise ValueError(f"combine_scheds got {len(pcts)} pcts for {len(scheds)} schedules")
    if any(p < 0 for p in pcts) or not math.isclose(sum(pcts), 1.0, abs_tol=1e-6):
        raise ValueError(f"combine_scheds: pcts must be >= 0 and sum to 1, got {list(pcts)}")
    bounds = [0.0]
    for p in pcts:
        bounds.append(bounds[-1] + p)
    # segments of zero width are never selected
    live = [i for i, p in enumerate(pcts) if p > 0]
    starts = [bounds[i] for i in live]

    def _inner(pos: float) -> Any:
        k = max(bisect.bisect_right(starts, pos) - 1, 0)
        i = live[k]
        rel = (pos - bounds[i]) / (bounds[i + 1] - bounds[i])
        return scheds[i](min(max(rel, 0.0), 1.0))

    return _inner


def combined_cos(pct: float, start: Any, middle: Any, end: Any) -> Schedule:
    """Cosine ``start`` -> ``middle`` over ``pct`` of training, then ``middle`` -> ``end``."""
    return combine_scheds([pct, 1 - pct], [SchedCos(start, middle), SchedCos(middle, end)])


class ParamScheduler(Callback):
    """Set optimizer hyper-parameters from schedules before every training batch (per param group).

    ``scheds`` maps a hyper name (``"lr"``, ``"mom"``, ``"wd"``...) to a schedule of ``pct_train``;
    the values used are recorded in ``self.hps`` (last param group), and handed to the Recorder.
    """

    order = 60
    run_valid = False

    def __init__(self, scheds: dict[str, Schedule]):
        super().__init__()
        if not isinstance(scheds, dict) or not all(callable(f) for f in scheds.values()):
            raise TypeError("ParamScheduler needs a dict {hyper name: schedule callable}")
        self.scheds = scheds
        self.hps: dict[str, list[Any]] = {k: [] for k in scheds}

    def before_fit(self) -> None:
        self.hps = {k: [] for k in self.scheds}

    def before_batch(self) -> None:
        self._update_val(self.learn.pct_train)

    def _update_val(self, pct: float) -> None:
        for n, f in self.scheds.items():
            self.learn.opt.set_hyper(n, f(pct))

    def after_batch(self) -> None:
        for n in self.scheds:
            self.hps[n].append(self.learn.opt.hypers[-1][n])

    def after_fit(self) -> None:
        rec = getattr(self.learn, "recorder", None)
        if rec is not None:
            rec.hps = self.hps


# --- LR finder ----------------------------------------------------------------------------------

def valley(lrs: torch.Tensor, losses: torch.Tensor, num_it: int) -> tuple[float, tuple[float, float]]:
    """Learning rate two-thirds of the way down the longest valley of the loss curve."""
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    idx = max_start + int(sections) + int(sections / 2)
    return float(lrs[idx]), (float(lrs[idx]), float(losses[idx]))


def slide(lrs: torch.Tensor, losses: torch.Tensor, num_it: int, lr_diff: int = 15, thresh: float = 0.005,
          adjust_value: float = 1.0) -> tuple[float, tuple[float, float]]:
    """Learning rate where the loss curve's slope last stops changing (fastai's ``slide``)."""
    losses_np = np.asarray(losses, dtype=float)
    lrs_np = np.asarray(lrs, dtype=float)
    loss_grad = np.gradient(losses_np)
    r_idx = -1
    l_idx = max(r_idx - lr_diff, -len(losses_np))
    local_min_lr = lrs_np[l_idx]
    while l_idx >= -len(losses_np) and abs(loss_grad[r_idx] - loss_grad[l_idx]) > thresh:
        local_min_lr = lrs_np[l_idx]
        r_idx -= 1
        l_idx -= 1
    suggestion = float(local_min_lr) * adjust_value
    loss_at = float(np.interp(np.log10(suggestion), np.log10(lrs_np), losses_np))
    return suggestion, (suggestion, loss_at)


def minimum(lrs: torch.Tensor, losses: torch.Tensor, num_it: int) -> tuple[float, tuple[float, float]]:
    """A tenth of the learning rate with the lowest loss."""
    i = int(torch.as_tensor(losses).argmin())
    lr_min = float(lrs[i])
    return lr_min / 10, (lr_min, float(losses[i]))


def steep(lrs: torch.Tensor, losses: torch.Tensor, num_it: int) -> tuple[float, tuple[float, float]]:
    """Learning rate where the loss falls fastest (per log-lr)."""
    lrs, losses = torch.as_tensor(lrs, dtype=torch.float64), torch.as_tensor(losses, dtype=torch.float64)
    grads = (losses[1:] - losses[:-1]) / (lrs[1:].log() - lrs[:-1].log())
    i = int(grads.argmin())
    return float(lrs[i]), (float(lrs[i]), float(losses[i]))


class LRFinder(ParamScheduler):
    """Exponentially growing learning rate for ``num_it`` batches; stops when the loss diverges.

    Weights and optimizer state are copied in memory before the run and restored afterwards
    (also when the run is interrupted).
    """

    order = 60

    def __init__(self, start_lr: Any = 1e-7, end_lr: Any = 10, num_it: int = 100, stop_div: bool = True,
                 beta: float = 0.98):
        super().__init__({"lr": SchedExp(start_lr, end_lr)})
        self.num_it, self.stop_div, self.beta = max(int(num_it), 6), stop_div, beta
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self._saved: tuple[dict, dict] | None = None

    def before_fit(self) -> None:
        super().before_fit()
        self._saved = (copy.deepcopy(self.learn.model.state_dict()), copy.deepcopy(self.learn.opt.state_dict()))
        self.best_loss, self._avg, self._n = float("inf"), 0.0, 0
        self.lrs, self.losses = [], []

    def before_batch(self) -> None:
        self._update_val(self.learn.train_iter / self.num_it)

    def after_batch(self) -> None:
        super().after_batch()
        loss = float(self.learn.loss.detach().float().mean())
        self._n += 1
        self._avg = self.beta * self._avg + (1 - self.beta) * loss
        smooth = self._avg / (1 - self.beta**self._n)
        self.lrs.append(float(self.learn.opt.hypers[-1]["lr"]))
        self.losses.append(smooth)
        if smooth < self.best_loss:
            self.best_loss = smooth
        if self.stop_div and (smooth > 4 * self.best_loss or math.isnan(smooth)):
            raise CancelFitException()
        if self._n >= self.num_it:
            raise CancelFitException()

    def before_validate(self) -> None:
        raise CancelValidException()

    def after_fit(self) -> None:
        super().after_fit()
        self._restore()

    def cleanup_fit(self) -> None:
        self._restore()

    def _restore(self) -> None:
        if self._saved is None:
            return
        model_sd, opt_sd = self._saved
        self._saved = None
        self.learn.opt.zero_grad()
        self.learn.model.load_state_dict(model_sd)
        self.learn.opt.load_state_dict(opt_sd)


def _func_name(f: Callable) -> str:
    return f.func.__name__ if isinstance(f, functools.partial) else f.__name__
