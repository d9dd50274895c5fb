"""Reduce and gather helpers over the default process group (identity in a single process).

Tensors travel on the backend's device (CPU for gloo, the current GPU for NCCL) and come back on
the device they came from. Gathers accept a different first dimension on each rank.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from torchloom._distributed.env import is_distributed

__all__ = ["all_gather_cat", "all_gather_objects", "all_reduce", "broadcast_int", "interleave"]


def _comm_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce(t: Tensor, op: str = "sum") -> Tensor:
    """``op`` ("sum", "mean", "max" or "min") of ``t`` over all ranks; a new tensor on ``t``'s device."""
    if op not in ("sum", "mean", "max", "min"):
        raise ValueError(f"all_reduce(op=...) must be 'sum', 'mean', 'max' or 'min', got {op!r}")
    if not is_distributed():
        return t.clone()
    dev = t.device
    x = t.detach().to(_comm_device(), copy=True)
    dtype = x.dtype
    if op == "mean" and not x.is_floating_point():
        x = x.double()
    rop = {"sum": dist.ReduceOp.SUM, "mean": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX,
           "min": dist.ReduceOp.MIN}[op]
    dist.all_reduce(x, op=rop)
    if op == "mean":
        x = x / dist.get_world_size()
        if not dtype.is_floating_point:
            x = x.to(torch.float64)
    return x.to(dev)


def all_gather_objects(obj: Any) -> list[Any]:
    """One small picklable object from every rank, in rank order (metadata, not tensors or files)."""
    if not is_distributed():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_int(value: int, src: int = 0) -> int:
    """Rank ``src``'s ``value`` on every rank."""
    if not is_distributed():
        return int(value)
    t = torch.tensor([int(value)], dtype=torch.int64, device=_comm_device())
    dist.broadcast(t, src=src)
    return int(t.item())


def all_gather_cat(t: Tensor | None) -> list[Tensor]:
    """Every rank's tensor (first dimensions may differ; ``None`` means no rows), in rank order.

    Ranks must agree on dtype and trailing dimensions; a rank with ``None`` borrows them from one
    that has data.
    """
    if not is_distributed():
        return [] if t is None else [t]
    meta = all_gather_objects(None if t is None else (tuple(t.shape), str(t.dtype).removeprefix("torch.")))
    known = next((m for m in meta if m is not None), None)
    if known is None:
        return []
    trailing, dtype = known[0][1:], getattr(torch, known[1])
    for r, m in enumerate(meta):
        if m is not None and (m[0][1:] != trailing or m[1] != known[1]):
            raise ValueError(f"cannot gather across ranks: rank {r} has shape {m[0]} {m[1]}, another has "
                             f"{known[0]} {known[1]}")
    sizes = [0 if m is None else m[0][0] for m in meta]
    dev = t.device if t is not None else torch.device("cpu")
    cdev = _comm_device()
    mx = max(sizes)
    local = torch.zeros((mx, *trailing), dtype=dtype, device=cdev)
    if t is not None and len(t):
        local[: len(t)] = t.detach().to(cdev)
    parts = [torch.empty_like(local) for _ in sizes]
    dist.all_gather(parts, local)
    return [p[:n].to(dev) for p, n in zip(parts, sizes)]


def interleave(parts: list[Any]) -> Any:
    """Undo rank sharding: item ``j`` of rank ``r`` goes to position ``j * world + r``.

    ``parts`` holds one tensor (or list) per rank, as sharded by ``Shard(even=False)``.
    """
    w = len(parts)
    if w == 1:
        return parts[0]
    n = sum(len(p) for p in parts)
    if all(isinstance(p, Tensor) for p in parts):
        out = parts[0].new_empty((n, *parts[0].shape[1:]))
        for r, p in enumerate(parts):
            out[r::w] = p
        return out
    res: list[Any] = [None] * n
    for r, p in enumerate(parts):
        res[r::w] = list(p)
    return res
