"""Distributed training helpers: ranks, sharding, reductions and the ``ddp`` callback.

``from torchloom.distributed import rank, world_size, is_main_process, rank0_first, barrier``;
the callback is switched on with ``learn.use("ddp")`` (automatic under ``torchrun``).
"""
from __future__ import annotations

from ..lazy import lazy_exports

_LAZY = {
    "DistributedTrainer": "ddp",
    "Shard": "sampler",
    "shard_indices": "sampler",
    "shard_size": "sampler",
    "all_gather_cat": "comm",
    "all_gather_objects": "comm",
    "all_reduce": "comm",
    "broadcast_int": "comm",
    "interleave": "comm",
    "barrier": "env",
    "ensure_process_group": "env",
    "is_distributed": "env",
    "is_main_process": "env",
    "launched_by_torchrun": "env",
    "local_rank": "env",
    "rank": "env",
    "rank0_first": "env",
    "world_size": "env",
    "sync_metric": "metrics",
}
__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
