"""Make per-rank metric state what one process over the whole epoch would hold.

Known kernel metrics are reduced by their state: sums and counts are summed, stored predictions
and targets gathered, confusion matrices summed. A custom metric takes part by defining
``sync_across_ranks()`` (called on every rank at the end of a phase, before ``value`` is read);
any other metric keeps its per-rank value, with one warning naming it.
"""
from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor

from torchloom._distributed.comm import all_gather_cat, all_gather_objects, all_reduce, interleave
from torchloom._metrics import AccumMetric, AvgLoss, AvgMetric, _ConfusionMetric

__all__ = ["sync_metric"]


def _sum_total(total: Any) -> Tensor:
    t = total if isinstance(total, Tensor) else torch.tensor(float(total))
    return all_reduce(t.detach().to(torch.float64), "sum")


def _sync_avg(m: Any) -> None:
    orig = m.total
    dtype = orig.dtype if isinstance(orig, Tensor) else torch.float32
    dev = orig.device if isinstance(orig, Tensor) else None
    total = _sum_total(orig)
    count = int(all_reduce(torch.tensor(int(m.count), dtype=torch.int64), "sum"))
    total = total.to(dtype)
    m.total = total.to(dev) if dev is not None else total
    m.count = count


def _sync_accum(m: AccumMetric) -> None:
    preds = torch.cat(m.preds) if m.preds else None
    targs = torch.cat(m.targs) if m.targs else None
    p, t = all_gather_cat(preds), all_gather_cat(targs)
    m.preds = [interleave(p)] if p and sum(len(x) for x in p) else []
    m.targs = [interleave(t)] if t and sum(len(x) for x in t) else []


def _sync_confusion(m: Any) -> None:
    n = max(all_gather_objects(0 if m.cm is None else int(m.cm.shape[0])))
    if n == 0:
        return
    dev = m.cm.device if m.cm is not None else torch.device("cpu")
    cm = torch.zeros(n, n, dtype=torch.long, device=dev)
    if m.cm is not None:
        k = m.cm.shape[0]
        cm[:k, :k] += m.cm
    m.cm = all_reduce(cm, "sum")


_warned: set[str] = set()


def sync_metric(m: Any) -> None:
    """Reduce one metric's state across ranks, in place (every rank must call it, in the same order)."""
    custom = getattr(m, "sync_across_ranks", None)
    if callable(custom):
        custom()
    elif isinstance(m, (AvgMetric, AvgLoss)):
        _sync_avg(m)
    elif isinstance(m, AccumMetric):
        _sync_accum(m)
    elif isinstance(m, _ConfusionMetric):
        _sync_confusion(m)
    elif hasattr(m, "total") and hasattr(m, "count"):
        _sync_avg(m)
    else:
        name = type(m).__name__
        if name not in _warned:
            _warned.add(name)
            warnings.warn(f"metric {name} has no cross-rank reduction: under DDP it reports this rank's share "
                          f"of the data. Define {name}.sync_across_ranks() to reduce its state",
                          RuntimeWarning, stacklevel=3)
