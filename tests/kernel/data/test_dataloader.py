"""DataLoader: typed collation, hooks, shuffle/drop_last, workers, seeds, device, new, errors on bad kwargs."""
import random

import numpy as np
import pytest
import torch

from tests.kernel.data.helpers import TensorImage, make_img
from torchloom import DataLoader, IntToFloatTensor, TensorCategory, Transform
from torchloom.data._dataloader import CollateError, SkipItemException, collate


class Items:
    """A map-style dataset of (TensorImage, TensorCategory) pairs."""

    def __init__(self, n=20):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return make_img(i), TensorCategory(i % 3)


def test_typed_collation_gives_typed_batch_tuple():
    b = collate([(make_img(1), TensorCategory(0)), (make_img(2), TensorCategory(1))])
    assert isinstance(b, tuple) and type(b[0]) is TensorImage and type(b[1]) is TensorCategory
    assert b[0].shape == (2, 3, 4, 4) and b[1].tolist() == [0, 1]
    assert collate([1, 2]).tolist() == [1, 2]
    assert collate([{"a": 1.0}, {"a": 2.0}])["a"].tolist() == [1.0, 2.0]
    assert collate(["x", "y"]) == ["x", "y"]


def test_collate_mismatched_shapes_names_items():
    samples = [(make_img(0, 4), 0), (make_img(0, 4), 1), (make_img(0, 5), 2)]
    with pytest.raises(CollateError) as ei:
        collate(samples, idxs=[10, 11, 12])
    msg = str(ei.value)
    assert "element[0]" in msg and "(3, 5, 5) at item(s) 12" in msg and "(3, 4, 4) at item(s) 10, 11" in msg


def test_batches_len_bs_drop_last():
    dl = DataLoader(Items(20), bs=8)
    bs = [b[0].shape[0] for b in dl]
    assert bs == [8, 8, 4] and len(dl) == 3 and dl.n == 20
    dl2 = DataLoader(Items(20), bs=8, drop_last=True)
    assert [b[0].shape[0] for b in dl2] == [8, 8] and len(dl2) == 2
    assert len(DataLoader(Items(20), bs=8, n=10)) == 2


def test_shuffle_seeded_reproducible_and_changes_per_epoch():
    dl = DataLoader(Items(20), bs=20, shuffle=True, seed=3)
    e1 = next(iter(dl))[0][:, 0, 0, 0].tolist()
    e2 = next(iter(dl))[0][:, 0, 0, 0].tolist()
    assert sorted(e1) == list(range(20)) and e1 != list(range(20)) and e1 != e2
    dl_b = DataLoader(Items(20), bs=20, shuffle=True, seed=3)
    assert next(iter(dl_b))[0][:, 0, 0, 0].tolist() == e1
    torch.manual_seed(0)
    a = next(iter(DataLoader(Items(20), bs=20, shuffle=True)))[1].tolist()
    torch.manual_seed(0)
    assert next(iter(DataLoader(Items(20), bs=20, shuffle=True)))[1].tolist() == a


def test_hooks_run_in_order_with_split_idx():
    calls = []

    class Rec(Transform):
        def __init__(self, name):
            super().__init__()
            self.nm = name

        def encodes(self, x: TensorImage):
            calls.append(self.nm)
            return x

    before = Transform(lambda items: calls.append("before_batch") or items)
    before._retain = True
    dl = DataLoader(Items(4), bs=2, after_item=Rec("item"), before_batch=before, after_batch=[Rec("batch")])
    next(iter(dl))
    assert calls == ["item", "item", "before_batch", "batch"]


def test_after_batch_int_to_float_and_decode():
    dl = DataLoader(Items(4), bs=4, after_batch=IntToFloatTensor())
    x, y = dl.one_batch()
    assert x.dtype == torch.float32 and type(x) is TensorImage and y.dtype == torch.int64
    assert torch.allclose(x[3].as_subclass(torch.Tensor), torch.full((3, 4, 4), 3 / 255))
    dx, dy = dl.decode((x, y))
    assert dx.dtype == torch.uint8 and dx[3, 0, 0, 0].item() == 3
    samples = dl.decode_batch((x, y), max_n=2)
    assert len(samples) == 2 and samples[1][0][0, 0, 0].item() == 1 and type(samples[1][1]) is TensorCategory


def test_same_batches_with_0_and_2_workers_including_random_tfms():
    class Noise(Transform):
        def encodes(self, x: TensorImage):
            return x.float() + torch.rand(1) + random.random() + float(np.random.rand())

    def run(nw):
        dl = DataLoader(Items(37), bs=5, shuffle=True, seed=11, num_workers=nw, after_item=Noise())
        return [b for epoch in range(2) for b in dl]

    b0, b2 = run(0), run(2)
    assert len(b0) == len(b2) == 16
    for (x0, y0), (x2, y2) in zip(b0, b2):
        assert type(x2) is TensorImage and type(y2) is TensorCategory
        assert torch.equal(x0, x2) and torch.equal(y0, y2)
    # the per-batch seeding does not disturb the caller's global RNG stream
    torch.manual_seed(5)
    random.seed(5)
    np.random.seed(5)
    expected = (torch.rand(1), random.random(), np.random.rand())
    torch.manual_seed(5)
    random.seed(5)
    np.random.seed(5)
    next(iter(DataLoader(Items(5), bs=5, seed=1, after_item=Noise())))
    assert (torch.rand(1), random.random(), np.random.rand()) == expected


def test_skip_item_exception_drops_item():
    class Skip(Transform):
        def encodes(self, x: TensorCategory):
            if x.item() == 0:
                raise SkipItemException()
            return x

    dl = DataLoader(Items(6), bs=6, after_item=Skip())
    assert 0 not in next(iter(dl))[1].tolist() and len(next(iter(dl))[1]) == 4


def test_custom_create_batch_and_device_and_new():
    dl = DataLoader(Items(6), bs=3, create_batch=lambda items: len(items), device="cpu")
    assert list(dl) == [3, 3]
    d2 = dl.new(bs=2)
    assert list(d2) == [2, 2, 2] and d2.device == torch.device("cpu")
    with pytest.raises(TypeError, match="shufle.*did you mean 'shuffle'"):
        dl.new(shufle=True)


def test_unknown_kwarg_raises_naming_it():
    with pytest.raises(TypeError, match="shuffled"):
        DataLoader(Items(4), shuffled=True)


def test_bad_args():
    with pytest.raises(ValueError, match="bs"):
        DataLoader(Items(4), bs=0)
    with pytest.raises(TypeError, match="indexable"):
        DataLoader(5)


def test_empty_dataset_errors_clearly():
    dl = DataLoader([], bs=2)
    with pytest.raises(ValueError, match="empty"):
        next(iter(dl))
    with pytest.raises(ValueError, match="no batch"):
        list(DataLoader(Items(3), bs=4, drop_last=True))


def test_subclass_can_override_create_batch_and_get_idxs_and_new_keeps_class():
    class Reversed(DataLoader):
        def get_idxs(self):
            return list(range(self.n))[::-1]

        def create_batch(self, items):
            return [int(y) for _, y in items]

    dl = Reversed(Items(6), bs=3)
    assert list(dl) == [[2, 1, 0], [2, 1, 0]]
    assert type(dl.new(bs=2)) is Reversed and list(dl.new(bs=6)) == [[2, 1, 0, 2, 1, 0]]


def test_namedtuple_and_dict_samples_collate_structurally():
    from collections import namedtuple

    Pair = namedtuple("Pair", "img label")
    b = collate([Pair(make_img(1), 1), Pair(make_img(2), 0)])
    assert type(b) is Pair and type(b.img) is TensorImage and b.label.tolist() == [1, 0]
    d = collate([{"x": make_img(1), "y": TensorCategory(1)}, {"x": make_img(2), "y": TensorCategory(0)}])
    assert type(d["x"]) is TensorImage and type(d["y"]) is TensorCategory
