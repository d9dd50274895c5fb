"""Rank sharding of the kernel DataLoader (no process group needed)."""
from __future__ import annotations

import pytest
import torch

from torchloom import DataLoader
from torchloom._distributed.comm import interleave
from torchloom._distributed.sampler import Shard, shard_indices, shard_size


@pytest.mark.parametrize("n", [10, 11, 3])
def test_even_shards_pad_from_the_start_like_distributed_sampler(n: int) -> None:
    from torch.utils.data import DistributedSampler

    idxs = list(range(n))
    for r in range(4):
        ours = shard_indices(idxs, Shard(r, 4, even=True))
        theirs = list(DistributedSampler(idxs, num_replicas=4, rank=r, shuffle=False))
        assert ours == theirs
        assert len(ours) == shard_size(n, Shard(r, 4))
        dropped = list(DistributedSampler(idxs, num_replicas=4, rank=r, shuffle=False, drop_last=True))
        assert shard_indices(idxs, Shard(r, 4), drop_last=True) == dropped


def test_uneven_shards_cover_each_item_once_and_interleave_back() -> None:
    idxs = list(range(11))
    parts = [shard_indices(idxs, Shard(r, 3, even=False)) for r in range(3)]
    assert [len(p) for p in parts] == [4, 4, 3]
    assert interleave([torch.tensor(p) for p in parts]).tolist() == idxs
    assert interleave(parts) == idxs


def test_sharded_loader_yields_its_part_of_the_same_seeded_shuffle() -> None:
    data = list(range(20))
    whole = DataLoader(data, bs=4, shuffle=True, seed=3)
    expected = [int(i) for b in whole for i in b]
    got = []
    for r in range(2):
        dl = DataLoader(data, bs=2, shuffle=True, seed=3)
        dl.shard = Shard(r, 2)
        assert len(dl) == 5
        got.append([int(i) for b in dl for i in b])
    assert interleave(got) == expected  # batch k of every rank together = batch k of one process


def test_loader_without_seed_shuffles_by_the_shard_seed() -> None:
    data = list(range(16))
    orders = []
    for r in range(2):
        dl = DataLoader(data, bs=4, shuffle=True)
        dl.shard = Shard(r, 2, seed=7)
        orders.append([int(i) for b in dl for i in b])
    assert sorted(orders[0] + orders[1]) == data  # same permutation on both ranks: a partition


def test_bad_shard_rank_is_an_error() -> None:
    with pytest.raises(ValueError, match="rank 2 is outside 0..1"):
        shard_indices([1, 2, 3], Shard(2, 2))


def test_epoch_indices_is_the_sharded_order_for_custom_loaders() -> None:
    dl = DataLoader(list(range(10)), bs=2, shuffle=True, seed=5)
    whole = dl.get_idxs()
    dl.shard = Shard(1, 2)
    assert dl.epoch_indices() == whole[1::2]


def test_ddp_leaves_loaders_that_iterate_their_own_way_unsharded() -> None:
    from torchloom import DistributedTrainer

    class OwnIter(DataLoader):
        def __iter__(self):
            yield from super().__iter__()

    class Declared(OwnIter):
        shards_by_rank = True

    cb = DistributedTrainer()
    plain, own, declared = (cls(list(range(8)), bs=2) for cls in (DataLoader, OwnIter, Declared))
    cb._shard(plain, even=True)
    cb._shard(declared, even=True)
    with pytest.warns(RuntimeWarning, match="OwnIter overrides __iter__"):
        cb._shard(own, even=True)
    assert plain.shard is not None and declared.shard is not None and own.shard is None
    cb._unshard()
    assert plain.shard is None and declared.shard is None
