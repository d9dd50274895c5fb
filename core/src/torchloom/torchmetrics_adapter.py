"""torchmetrics metrics as epoch metrics: ``update`` every batch, ``compute`` once per epoch, ``reset``
at the start of each phase -- so F1, AUROC and friends are computed over the whole epoch instead of
averaged per batch. torchmetrics stays optional (``pip install 'torchloom[torchmetrics]'``).

``Learner(metrics=[torchmetrics.F1Score(...)])`` wraps a torchmetrics metric automatically;
``TorchMetric(metric, name=..., activation=...)`` does it explicitly.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from torch import Tensor

from .metrics import Metric

__all__ = ["TorchMetric", "is_torchmetric"]


def is_torchmetric(m: Any) -> bool:
    """A ``torchmetrics.Metric`` instance (checked without importing torchmetrics)."""
    tm = sys.modules.get("torchmetrics")
    return tm is not None and isinstance(m, tm.Metric)


class TorchMetric(Metric):
    """Adapt a ``torchmetrics.Metric``: ``metric.update(activation(pred), *yb)`` per batch, ``compute()``
    as the epoch value. The metric's state follows the model's device. ``name`` defaults to the
    torchmetrics class name in snake case (``MulticlassF1Score`` -> ``multiclass_f1_score``)."""

    def __init__(self, metric: Any, name: str | None = None,
                 activation: Callable[[Tensor], Tensor] | None = None) -> None:
        if not is_torchmetric(metric):
            raise TypeError(f"TorchMetric expects a torchmetrics.Metric instance, got {metric!r} "
                            f"({type(metric).__name__}); plain functions go straight into metrics=[...]")
        self.metric, self.activation, self._name = metric, activation, name

    def __copy__(self) -> TorchMetric:  # Learner copies metrics: each copy needs its own state
        return TorchMetric(self.metric.clone(), self._name, self.activation)

    def reset(self) -> None:
        self.metric.reset()

    def accumulate(self, learn: Any) -> None:
        pred = learn.pred
        if isinstance(pred, Tensor) and self.metric.device != pred.device:
            self.metric.to(pred.device)
        if self.activation is not None:
            pred = self.activation(pred)
        self.metric.update(pred, *learn.yb)

    @property
    def value(self) -> Tensor | float | None:
        if not getattr(self.metric, "update_called", True):  # nothing seen this phase (e.g. no validation set)
            return None
        return self.metric.compute()

    @property
    def name(self) -> str:
        if self._name is not None:
            return self._name
        import re

        return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", type(self.metric).__name__).lower()
