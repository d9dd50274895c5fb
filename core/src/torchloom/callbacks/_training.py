"""Callbacks that change how a training step is taken: accumulation, clipping, NaN guard."""
from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from torchloom.callbacks._base import Callback, CancelBatchException, CancelFitException

__all__ = ["GradientAccumulation", "GradientClip", "TerminateOnNaN"]


def _find_bs(b: Any) -> int:
    """Batch size of the first tensor in a (nested) batch."""
    if isinstance(b, torch.Tensor):
        return b.shape[0] if b.ndim else 1
    if isinstance(b, (list, tuple)):
        for x in b:
            n = _find_bs(x)
            if n:
                return n
    if isinstance(b, dict):
        return _find_bs(list(b.values()))
    return 0


class GradientAccumulation(Callback):
    """Step the optimizer only every ``n_acc`` samples, summing gradients in between.

    The loss is scaled by ``bs/n_acc`` so the accumulated gradient equals that of one batch of
    ``n_acc`` samples. Skipped batches raise ``CancelBatchException`` in ``before_step``, which
    also skips ``zero_grad``.
    """

    order = 6
    run_valid = False

    def __init__(self, n_acc: int = 32):
        super().__init__()
        if int(n_acc) < 1:
            raise ValueError(f"GradientAccumulation(n_acc={n_acc}): n_acc must be >= 1")
        self.n_acc = int(n_acc)
        self.count = 0

    def _bs(self) -> int:
        bs = _find_bs(self.learn.yb) or _find_bs(self.learn.xb)
        if not bs:
            raise ValueError("GradientAccumulation could not find the batch size of learn.yb / learn.xb")
        return bs

    def before_fit(self) -> None:
        self.count = 0

    def after_loss(self) -> None:
        self.learn.loss_grad = self.learn.loss_grad * (self._bs() / self.n_acc)

    def before_step(self) -> None:
        self.count += self._bs()
        if self.count < self.n_acc:
            raise CancelBatchException()  # keep accumulating: no step, no zero_grad
        self.count = 0

    def state_dict(self) -> dict[str, Any]:
        return {"count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.count = int(state.get("count", 0))


class GradientClip(Callback):
    """Clip the gradient norm of all trained parameters to ``max_norm`` before each step."""

    order = 11
    run_valid = False

    def __init__(self, max_norm: float = 1.0, norm_type: float = 2.0):
        super().__init__()
        if max_norm <= 0:
            raise ValueError(f"GradientClip(max_norm={max_norm}): max_norm must be > 0")
        self.max_norm, self.norm_type = float(max_norm), float(norm_type)

    def before_step(self) -> None:
        params = [p for pg in self.learn.opt.param_lists for p in pg if p.grad is not None]
        if params:
            nn.utils.clip_grad_norm_(params, self.max_norm, self.norm_type, foreach=True)


class TerminateOnNaN(Callback):
    """Stop training (``CancelFitException``) as soon as the training loss is NaN or infinite."""

    order = -9
    run_valid = False

    def after_batch(self) -> None:
        loss = self.learn.loss
        if loss is None:
            return
        if not bool(torch.isfinite(torch.as_tensor(loss)).all()):
            msg = (f"TerminateOnNaN: training loss is {float(torch.as_tensor(loss).float().mean())} at epoch "
                   f"{self.learn.epoch}, iteration {self.learn.iter} (train_iter {self.learn.train_iter}); "
                   "training stopped")
            self.learn.terminated_on_nan = msg
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
            raise CancelFitException(msg)
