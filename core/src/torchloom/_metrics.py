"""Metrics accumulated on the device: one host sync per epoch, not per batch.

A metric follows fastai's protocol -- ``reset()``, ``accumulate(learn)``, ``value``, ``name`` --
and keeps its running sums as tensors on the model's device; ``value`` returns a 0-dim tensor
(or a float), and the Recorder turns every epoch's values into floats with a single transfer.
"""
from __future__ import annotations

import copy
import math
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from torchloom.callbacks._base import class2attr

__all__ = [
    "AccumMetric", "AvgLoss", "AvgMetric", "AvgSmoothLoss", "F1Score", "Metric", "Precision", "Recall",
    "TorchMetric", "ValueMetric", "accuracy", "accuracy_multi", "error_rate", "find_bs", "is_torchmetric", "mae",
    "mk_metric", "mse", "rmse", "top_k_accuracy",
]


def find_bs(b: Any) -> int:
    """Batch size of a batch (first dimension of its first tensor)."""
    while isinstance(b, (tuple, list)):
        if not b:
            raise ValueError("cannot find the batch size of an empty batch")
        b = b[0]
    if isinstance(b, dict):
        return find_bs(next(iter(b.values())))
    return b.shape[0]


def _flatten_check(inp: Tensor, targ: Tensor) -> tuple[Tensor, Tensor]:
    inp, targ = inp.reshape(-1), targ.reshape(-1)
    if inp.numel() != targ.numel():
        raise ValueError(f"metric expects predictions and targets of the same size, got {inp.numel()} and "
                         f"{targ.numel()} elements")
    return inp, targ


class Metric:
    """Base of stateful metrics; subclasses implement ``reset``, ``accumulate`` and ``value``."""

    def reset(self) -> None:
        """Clear the state at the start of an epoch phase."""

    def accumulate(self, learn: Any) -> None:
        """Update the state with ``learn.pred`` / ``learn.yb`` / ``learn.loss`` of the current batch."""

    @property
    def value(self) -> Tensor | float | None:
        raise NotImplementedError(f"{type(self).__name__} must define .value")

    @property
    def name(self) -> str:
        return class2attr(self, "Metric")


class AvgMetric(Metric):
    """Average of ``func(pred, *yb)`` over the items of an epoch (weighted by batch size)."""

    def __init__(self, func: Callable[..., Tensor]) -> None:
        self.func = func
        self.reset()

    def reset(self) -> None:
        self.total: Tensor | float = 0.0
        self.count = 0

    def accumulate(self, learn: Any) -> None:
        bs = find_bs(learn.yb)
        v = self.func(learn.pred, *learn.yb).detach() * bs
        self.total = self.total + v if self.count else v  # the first batch: no ``0.0 + tensor`` op
        self.count += bs

    @property
    def value(self) -> Tensor | float | None:
        return self.total / self.count if self.count else None

    @property
    def name(self) -> str:
        f = self.func
        return getattr(f, "func", f).__name__ if hasattr(getattr(f, "func", f), "__name__") else class2attr(f)


class AvgLoss(Metric):
    """Average loss over an epoch (weighted by batch size)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total: Tensor | float = 0.0
        self.count = 0

    def accumulate(self, learn: Any) -> None:
        bs = find_bs(learn.yb)
        loss = learn.loss
        v = (loss.mean() if loss.ndim else loss) * bs  # a reduced loss is already its mean (a mean op costs ~3 us)
        self.total = self.total + v if self.count else v
        self.count += bs

    @property
    def value(self) -> Tensor | float | None:
        return self.total / self.count if self.count else None

    @property
    def name(self) -> str:
        return "loss"


class AvgSmoothLoss(Metric):
    """Exponential moving average of the loss, debiased (``beta`` as in fastai).

    Per batch only the (detached) loss is kept; the average is computed when someone reads it, for
    all pending batches at once (a chunked closed form of the recurrence), so training costs no
    extra tensor op per batch and no host sync.
    """

    def __init__(self, beta: float = 0.98) -> None:
        if not 0 < beta < 1:
            raise ValueError(f"AvgSmoothLoss(beta=...) must be in (0, 1), got {beta}")
        self.beta = beta
        # chunk so that beta ** -chunk stays small enough for exact-enough float arithmetic
        self._chunk = max(1, min(1024, int(math.log(1e6) / -math.log(beta))))
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self._v: Tensor | float | None = None  # the biased EMA after ``count - len(_pending)`` steps
        self._pending: list[Tensor] = []
        self._folded: list[Tensor] = []
        self._last: Tensor | None = None
        self._last_host: tuple[float, torch.device] | None = None  # the last average when take_floats made it

    def accumulate(self, learn: Any) -> None:
        loss = learn.loss
        if loss.ndim:
            loss = loss.mean()
        self._pending.append(loss.detach() if loss.requires_grad else loss)
        self.count += 1

    def fold(self) -> Tensor | None:
        """Debiased averages of the batches accumulated since the last fold (1-d tensor), or None.

        They are also kept for :meth:`take_steps` (the Recorder's per-batch history)."""
        if not self._pending:
            return None
        x = torch.stack(self._pending)
        self._pending = []
        dtype = torch.float32 if x.device.type == "mps" else torch.float64
        x = x.to(dtype)
        b, t0 = self.beta, self.count - len(x)
        v = torch.as_tensor(0.0 if self._v is None else self._v, dtype=dtype, device=x.device)
        outs = []
        for s in range(0, len(x), self._chunk):
            xc = x[s: s + self._chunk]
            k = torch.arange(1, len(xc) + 1, dtype=dtype, device=x.device)
            # v_k = b^k (v_0 + (1 - b) sum_{i<=k} b^-i x_i)
            vk = b ** k * (v + (1 - b) * torch.cumsum(xc * b ** -k, 0))
            outs.append(vk)
            v = vk[-1]
        vs = torch.cat(outs)
        steps = torch.arange(t0 + 1, t0 + len(vs) + 1, dtype=dtype, device=x.device)
        self._v = v
        res = (vs / (1 - b ** steps)).to(torch.float32)
        self._last, self._last_host = res[-1], None
        self._folded.append(res)
        return res

    def take_steps(self) -> Tensor | None:
        """Every per-batch average not taken yet (1-d tensor, on the device), or None."""
        self.fold()
        if not self._folded:
            return None
        res = torch.cat(self._folded) if len(self._folded) > 1 else self._folded[0]
        self._folded = []
        return res

    def take_floats(self, extra: Sequence[Tensor] = ()) -> tuple[list[float], list[float]] | None:
        """Every per-batch average not taken yet, and the 0-dim tensors ``extra``, as floats in one transfer.

        The pending losses come to the host as they are and the average is computed there (a few float
        operations per batch instead of a dozen tensor ops per call). None when the tensors are on
        different devices (the caller falls back to :meth:`take_steps`)."""
        pending, folded, v = self._pending, self._folded, self._v
        items = [*pending, *extra]
        if pending and isinstance(v, Tensor):  # the state the pending batches continue from
            items.append(v)
        if not items and not folded:
            return [], []
        try:
            flat = torch.stack(items) if items else None
            if folded:
                flat = torch.cat([*folded, flat] if flat is not None else folded)
        except RuntimeError:  # on different devices
            return None
        assert flat is not None
        device = flat.device
        vals = flat.tolist()
        n_done = sum(len(f) for f in folded)
        out, vals = vals[:n_done], vals[n_done:]
        raw, floats = vals[: len(pending)], vals[len(pending): len(pending) + len(extra)]
        self._pending, self._folded = [], []
        if raw:
            b, step = self.beta, self.count - len(raw)
            ema = 0.0 if v is None else (vals[-1] if isinstance(v, Tensor) else v)
            for x in raw:  # the recurrence itself, in double precision
                step += 1
                ema = b * ema + (1 - b) * x
                out.append(ema / (1 - b**step))
            self._v = ema
            self._last, self._last_host = None, (out[-1], device)  # a tensor again only if someone reads it
        return out, floats

    @property
    def value(self) -> Tensor | None:
        self.fold()
        if self._last is None and self._last_host is not None:
            last, device = self._last_host
            self._last = torch.tensor(last, dtype=torch.float32, device=device)
        return self._last

    @property
    def name(self) -> str:
        return "smooth_loss"


class ValueMetric(Metric):
    """A metric whose value comes from a function called at epoch end (e.g. read from a callback)."""

    def __init__(self, func: Callable[[], Any], metric_name: str | None = None) -> None:
        self.func, self.metric_name = func, metric_name

    @property
    def value(self) -> Any:
        return self.func()

    @property
    def name(self) -> str:
        return self.metric_name or getattr(self.func, "__name__", "value")


class AccumMetric(Metric):
    """Store predictions and targets of a whole epoch (on the device) and compute ``func`` on them at the end.

    ``dim_argmax`` takes the argmax of predictions, ``activation`` ("softmax" | "sigmoid" | None)
    and ``thresh`` are applied first; ``flatten`` flattens both.
    """

    def __init__(self, func: Callable[..., Any], dim_argmax: int | None = None, activation: str | None = None,
                 thresh: float | None = None, flatten: bool = True, invert_arg: bool = False,
                 name: str | None = None, **kwargs: Any) -> None:
        if activation not in (None, "softmax", "sigmoid"):
            raise ValueError(f"AccumMetric(activation=...) must be None, 'softmax' or 'sigmoid', got {activation!r}")
        self.func, self.dim_argmax, self.activation, self.thresh = func, dim_argmax, activation, thresh
        self.flatten, self.invert_arg, self.kwargs, self._name = flatten, invert_arg, kwargs, name
        self.reset()

    def reset(self) -> None:
        self.preds: list[Tensor] = []
        self.targs: list[Tensor] = []

    def accumulate(self, learn: Any) -> None:
        pred = learn.pred.detach()
        if self.activation == "softmax":
            pred = F.softmax(pred, dim=-1 if self.dim_argmax is None else self.dim_argmax)
        elif self.activation == "sigmoid":
            pred = torch.sigmoid(pred)
        if self.dim_argmax is not None:
            pred = pred.argmax(dim=self.dim_argmax)
        if self.thresh is not None:
            pred = pred >= self.thresh
        targ = learn.yb[0].detach()
        if self.flatten:
            pred, targ = pred.reshape(-1), targ.reshape(-1)
        self.preds.append(pred)
        self.targs.append(targ)

    @property
    def value(self) -> Any:
        if not self.preds:
            return None
        preds, targs = torch.cat(self.preds), torch.cat(self.targs)
        if self.invert_arg:
            return self.func(targs, preds, **self.kwargs)
        return self.func(preds, targs, **self.kwargs)

    @property
    def name(self) -> str:
        return self._name or getattr(self.func, "__name__", "accum_metric").lstrip("_")


def mk_metric(m: Any) -> Metric:
    """A Metric from a Metric instance or class, or a plain ``func(pred, targ)`` (averaged over the epoch)."""
    if isinstance(m, type) and issubclass(m, Metric):
        return m()
    if isinstance(m, Metric):  # a copy: one instance (e.g. ``rmse``) may serve several learners
        m = copy.copy(m)
        m.reset()
        return m
    if is_torchmetric(m):  # a torchmetrics.Metric is callable, but averaging it per batch is wrong
        return TorchMetric(m.clone())
    if callable(m):
        return AvgMetric(m)
    raise TypeError(f"metrics must be Metric instances or functions (pred, targ) -> tensor, got {m!r}")


def mk_metrics(value: Any) -> list[Metric]:
    """The Learner's metrics from ``None``, one metric or a list (see :func:`mk_metric`)."""
    if value is None:
        return []
    return [mk_metric(m) for m in (value if isinstance(value, (list, tuple)) else [value])]


# -- functions -----------------------------------------------------------------------------------

def accuracy(inp: Tensor, targ: Tensor, axis: int = -1) -> Tensor:
    """Share of items whose argmax prediction equals the target."""
    pred, targ = _flatten_check(inp.argmax(dim=axis), targ)
    return (pred == targ).float().mean()


def error_rate(inp: Tensor, targ: Tensor, axis: int = -1) -> Tensor:
    """1 - accuracy."""
    return 1 - accuracy(inp, targ, axis=axis)


def top_k_accuracy(inp: Tensor, targ: Tensor, k: int = 5, axis: int = -1) -> Tensor:
    """Share of items whose target is among the ``k`` highest predictions."""
    top = inp.topk(k=k, dim=axis)[1]
    targ = targ.unsqueeze(dim=axis).expand_as(top)
    return (top == targ).sum(dim=-1).float().mean()


def accuracy_multi(inp: Tensor, targ: Tensor, thresh: float = 0.5, sigmoid: bool = True) -> Tensor:
    """Multi-label accuracy: share of (item, label) pairs predicted right at ``thresh``."""
    if sigmoid:
        inp = inp.sigmoid()
    inp, targ = _flatten_check(inp, targ)
    return ((inp > thresh) == targ.bool()).float().mean()


def mse(inp: Tensor, targ: Tensor) -> Tensor:
    """Mean squared error."""
    inp, targ = _flatten_check(inp, targ)
    return F.mse_loss(inp.float(), targ.float())


def mae(inp: Tensor, targ: Tensor) -> Tensor:
    """Mean absolute error."""
    inp, targ = _flatten_check(inp, targ)
    return (inp.float() - targ.float()).abs().mean()


def _rmse(preds: Tensor, targs: Tensor) -> Tensor:
    return torch.sqrt(F.mse_loss(preds.float(), targs.float()))


rmse = AccumMetric(_rmse, name="rmse")
"""Root mean squared error over the whole epoch (not an average of per-batch roots)."""


# -- classification scores from a confusion matrix -------------------------------------------------

class _ConfusionMetric(Metric):
    """Accumulates a confusion matrix on the device; subclasses turn it into a score.

    Predictions with one more dimension than the targets are argmax-ed along ``axis``; otherwise
    they are taken as probabilities and thresholded at ``thresh`` (binary).
    """

    def __init__(self, axis: int = -1, average: str = "binary", pos_label: int = 1, thresh: float = 0.5) -> None:
        if average not in ("binary", "macro", "micro"):
            raise ValueError(f"{type(self).__name__}(average=...) must be 'binary', 'macro' or 'micro', "
                             f"got {average!r}")
        self.axis, self.average, self.pos_label, self.thresh = axis, average, pos_label, thresh
        self.reset()

    def reset(self) -> None:
        self.cm: Tensor | None = None

    def accumulate(self, learn: Any) -> None:
        pred, targ = learn.pred.detach(), learn.yb[0].detach()
        if pred.ndim > targ.ndim:
            n = pred.shape[self.axis]
            pred = pred.argmax(dim=self.axis)
        else:
            n = 2
            pred = (pred >= self.thresh).long()
        pred, targ = pred.reshape(-1).long(), targ.reshape(-1).long()
        if self.cm is None or self.cm.shape[0] < n:
            old, self.cm = self.cm, torch.zeros(n, n, dtype=torch.long, device=pred.device)
            if old is not None:
                self.cm[: old.shape[0], : old.shape[1]] += old
        n = self.cm.shape[0]
        self.cm += torch.bincount(targ * n + pred, minlength=n * n)[: n * n].view(n, n)

    def _counts(self) -> tuple[Tensor, Tensor, Tensor]:
        cm = self.cm.double()
        tp = cm.diag()
        return tp, cm.sum(0) - tp, cm.sum(1) - tp  # tp, fp, fn per class

    def _score(self, tp: Tensor, fp: Tensor, fn: Tensor) -> Tensor:
        raise NotImplementedError

    @property
    def value(self) -> Tensor | None:
        if self.cm is None:
            return None
        tp, fp, fn = self._counts()
        if self.average == "binary":
            k = self.pos_label
            return self._score(tp[k], fp[k], fn[k])
        if self.average == "micro":
            return self._score(tp.sum(), fp.sum(), fn.sum())
        present = (tp + fp + fn) > 0  # sklearn: labels seen in targets or predictions
        return self._score(tp, fp, fn)[present].mean()


def _div(a: Tensor, b: Tensor) -> Tensor:
    return torch.where(b > 0, a / b.clamp(min=1e-300), torch.zeros_like(a))  # sklearn's zero_division=0


class Precision(_ConfusionMetric):
    """tp / (tp + fp); ``average`` "binary" (class ``pos_label``), "macro" or "micro"."""

    def _score(self, tp: Tensor, fp: Tensor, fn: Tensor) -> Tensor:
        return _div(tp, tp + fp)

    @property
    def name(self) -> str:
        return "precision_score"


class Recall(_ConfusionMetric):
    """tp / (tp + fn); ``average`` "binary" (class ``pos_label``), "macro" or "micro"."""

    def _score(self, tp: Tensor, fp: Tensor, fn: Tensor) -> Tensor:
        return _div(tp, tp + fn)

    @property
    def name(self) -> str:
        return "recall_score"


class F1Score(_ConfusionMetric):
    """2 tp / (2 tp + fp + fn); ``average`` "binary" (class ``pos_label``), "macro" or "micro"."""

    def _score(self, tp: Tensor, fp: Tensor, fn: Tensor) -> Tensor:
        return _div(2 * tp, 2 * tp + fp + fn)

    @property
    def name(self) -> str:
        return "f1_score"


# -- torchmetrics -----------------------------------------------------------------------------------
# torchmetrics metrics as epoch metrics: ``update`` every batch, ``compute`` once per epoch, ``reset`` at
# the start of each phase, so F1, AUROC and friends cover the whole epoch instead of a per-batch average.
# torchmetrics stays optional (``pip install 'torchloom[torchmetrics]'``) and is never imported here.

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
        return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", type(self.metric).__name__).lower()
