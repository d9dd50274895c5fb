"""Rank sharding of a loader's item order, with ``torch.utils.data.DistributedSampler`` semantics.

Every rank computes the same epoch order (same seed + epoch), then keeps every ``world``-th item
starting at its rank. Training shards are *even*: the order is padded by repeating items from its
start (or, with ``drop_last``, cut) to a multiple of ``world``, so every rank runs the same number
of batches -- DDP needs that. Validation and inference shards are *uneven* (no padding, no item
dropped or counted twice), so metrics reduced across ranks equal a single process's exactly.

Pure functions on index lists: no process group is needed, which keeps them testable alone.
"""
from __future__ import annotations

import math
from typing import NamedTuple

__all__ = ["Shard", "shard_indices", "shard_size"]


class Shard(NamedTuple):
    """Which part of each epoch a loader yields: ``rank`` of ``world``; ``even`` pads/drops to equal shares;
    ``seed`` shuffles the same way on every rank when the loader has no seed of its own."""

    rank: int
    world: int
    even: bool = True
    seed: int | None = None


def shard_size(n: int, shard: Shard, drop_last: bool = False) -> int:
    """How many of ``n`` items this rank gets."""
    r, w = shard.rank, shard.world
    if not shard.even:
        return len(range(r, n, w))
    return n // w if drop_last else math.ceil(n / w)


def shard_indices(idxs: list[int], shard: Shard, drop_last: bool = False) -> list[int]:
    """This rank's items of an epoch order ``idxs`` (see the module docstring for padding)."""
    r, w = shard.rank, shard.world
    if not 0 <= r < w:
        raise ValueError(f"shard rank {r} is outside 0..{w - 1}")
    if w == 1:
        return list(idxs)
    if shard.even:
        n = len(idxs)
        if drop_last:
            idxs = idxs[: (n // w) * w]
        else:
            total = math.ceil(n / w) * w
            pad = total - n
            while pad > 0:  # repeat from the start, as DistributedSampler does (even if n < pad)
                take = idxs[:pad]
                idxs = idxs + take
                pad -= len(take)
    return idxs[r::w]
