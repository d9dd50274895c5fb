"""The DataLoader's public extension points: ``get_idxs``, ``shuffle_fn``, ``epoch`` and ``epoch_seed``.

Subclasses (text ``SortedDL``/``LMDataLoader``, tabular ``TabDataLoader``) change the item order through
these alone; DDP sharding and a ``get_idxs=`` callable keep working with an overridden order.
"""
import torch

from torchloom import DataLoader
from torchloom._distributed.sampler import Shard


class Evens(DataLoader):
    """Shuffled epochs take the even items first (a custom ``shuffle_fn``), seeded by ``epoch_seed``."""

    def shuffle_fn(self, idxs):
        g = torch.Generator().manual_seed(self.epoch_seed)
        perm = [idxs[i] for i in torch.randperm(len(idxs), generator=g).tolist()]
        return [i for i in perm if i % 2 == 0] + [i for i in perm if i % 2]


def _order(dl):
    return [int(i) for b in dl for i in b]


def test_shuffle_fn_override_orders_each_epoch_and_epoch_counts_passes():
    dl = Evens(list(range(10)), bs=4, shuffle=True, seed=3)
    assert dl.epoch == -1
    first = _order(dl)
    assert dl.epoch == 0 and sorted(first) == list(range(10))
    assert all(i % 2 == 0 for i in first[:5])
    dl.one_batch()
    assert dl.epoch == 0, "one_batch does not count as a pass"
    second = _order(dl)
    assert dl.epoch == 1 and second != first and all(i % 2 == 0 for i in second[:5])
    again = Evens(list(range(10)), bs=4, shuffle=True, seed=3)
    assert _order(again) == first, "the same seed gives the same orders"


def test_default_shuffle_is_unchanged_by_the_hook():
    dl = DataLoader(list(range(12)), bs=5, shuffle=True, seed=7)
    want = torch.randperm(12, generator=torch.Generator().manual_seed(7)).tolist()
    assert _order(dl) == want
    dl.epoch = 4  # a resumed run reshuffles as epoch 5 would
    want = torch.randperm(12, generator=torch.Generator().manual_seed(7 + 5)).tolist()
    assert dl.epoch_seed == 7 + 4 and _order(dl) == want


def test_epoch_seed_is_shared_by_ranks_and_shards_stay_disjoint():
    seen = []
    for rank in range(2):
        dl = Evens(list(range(10)), bs=2, shuffle=True)
        dl.shard = Shard(rank, 2, even=True, seed=11)
        assert dl.epoch_seed == 11  # before the first pass: seed + 0
        seen.append(_order(dl))
        assert dl.epoch_seed == 11
    assert sorted(seen[0] + seen[1]) == list(range(10))
    assert DataLoader(list(range(4)), shuffle=True).epoch_seed is None


def test_get_idxs_callable_wins_over_a_subclass_order():
    dl = Evens(list(range(10)), bs=3, shuffle=True, seed=0, get_idxs=lambda: [9, 1, 4])
    assert _order(dl) == [9, 1, 4]
    assert _order(dl.new(bs=2)) == [9, 1, 4]
