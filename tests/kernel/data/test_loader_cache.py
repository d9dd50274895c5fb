"""``DataLoader(cache=True)``: dataset items are built once; later hooks still run every epoch."""
from __future__ import annotations

import torch

from torchloom import DataLoader, Transform


class Counted:
    """A dataset that counts how often each item is built (as a decoder of image files would be called)."""

    def __init__(self, n: int) -> None:
        self.n, self.calls = n, 0

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        self.calls += 1
        return torch.full((2,), float(i)), i % 3


class AddNoise(Transform):
    def encodes(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.rand(())


def test_cached_loader_builds_each_item_once_and_still_augments() -> None:
    ds = Counted(10)
    dl = DataLoader(ds, bs=4, shuffle=True, cache=True, after_item=AddNoise())
    first = [b for b in dl]
    second = [b for b in dl]
    assert ds.calls == 10  # two epochs, each item built once
    xs1 = torch.cat([b[0] for b in first])
    xs2 = torch.cat([b[0] for b in second])
    assert not torch.equal(xs1.sort(0).values, xs2.sort(0).values)  # augmentation ran again
    assert sorted(torch.cat([b[1] for b in second]).tolist()) == sorted(i % 3 for i in range(10))
    assert dl.new(shuffle=False).cache


def test_uncached_loader_builds_items_every_epoch() -> None:
    ds = Counted(10)
    dl = DataLoader(ds, bs=5)
    list(dl)
    list(dl)
    assert ds.calls == 20
