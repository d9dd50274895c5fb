"""TfmdLists and Datasets: lazy transforms, splits, n_inp, decode, vocab, new/new_empty."""
import pytest
import torch

from tests.kernel.data.helpers import TensorImage, make_img
from torchloom import Categorize, Datasets, ItemTransform, TensorCategory, TfmdLists, Transform

ITEMS = [(i, "b" if i % 3 == 0 else "a") for i in range(30)]
SPLITS = [list(range(24)), list(range(24, 30))]


def dsets(**kw):
    return Datasets(ITEMS, [[ItemTransform(lambda o: make_img(o[0]))], [ItemTransform(lambda o: o[1]), Categorize()]],
                    splits=SPLITS, **kw)


def test_tfmdlists_lazy_and_splits():
    calls = []

    def f(x: int):
        calls.append(x)
        return x * 2

    tl = TfmdLists(list(range(10)), [Transform(f)], splits=[[0, 1, 2], [8, 9]])
    assert calls == []  # no setups, nothing computed yet
    assert tl[3] == 6 and calls == [3]
    assert list(tl.train) == [0, 2, 4] and list(tl.valid) == [16, 18]
    assert tl.valid.split_idx == 1 and len(tl.valid) == 2
    assert tl[2:4] == [4, 6]


def test_boolean_mask_splits_and_out_of_range():
    tl = TfmdLists(list(range(4)), None, splits=[[True, False, True, False], [False, True, False, True]])
    assert list(tl.train) == [0, 2] and list(tl.valid) == [1, 3]
    with pytest.raises(IndexError, match="out of range"):
        TfmdLists(list(range(4)), None, splits=[[0, 9], [1]])


def test_datasets_tuple_items_vocab_and_types():
    ds = dsets()
    x, y = ds[1]
    assert type(x) is TensorImage and type(y) is TensorCategory
    assert ds.vocab == ["a", "b"] and ds.n_inp == 1 and len(ds) == 30
    assert len(ds.train) == 24 and len(ds.valid) == 6
    assert ds.valid[0][0][0, 0, 0].item() == 24  # valid item 0 is full item 24
    assert ds.decode(ds[0])[1] == "b"
    assert ds.c == 2


def test_vocab_built_from_train_split_only():
    items = [("x", "train_only"), ("y", "valid_only")]
    ds = Datasets(items, [[ItemTransform(lambda o: o[0])], [ItemTransform(lambda o: o[1]), Categorize()]],
                  splits=[[0], [1]])
    assert ds.vocab == ["train_only"]


def test_n_inp_explicit_and_new():
    ds = Datasets(list(range(5)), [[Transform(lambda x: x)], [Transform(lambda x: x + 1)],
                                   [Transform(lambda x: -x)]], n_inp=2)
    assert ds.n_inp == 2 and ds[1] == (1, 2, -1)
    new = ds.new([10], with_labels=False)
    assert new[0] == (10, 11) and new.n_inp == 2
    assert len(ds.new_empty()) == 0


def test_set_split_idx_context():
    tr = Transform(lambda x: x + 100, split_idx=0)
    ds = Datasets([1, 2], [[tr]], splits=[[0], [1]])
    v = ds.valid
    assert v[0] == (2,)
    with v.set_split_idx(0):
        assert v[0] == (102,)
    assert v[0] == (2,)


def test_items_from_generator_and_bad_tfms_arg():
    ds = Datasets((i for i in range(3)), [[Transform(lambda x: x * 2)]])
    assert ds[2] == (4,)
    with pytest.raises(TypeError, match="one list of transforms per output"):
        Datasets([1], tfms=[Transform(lambda x: x)])


def test_dataframe_items_are_rows():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "a"]})
    ds = Datasets(df, [[ItemTransform(lambda r: torch.tensor(r["x"]))], [ItemTransform(lambda r: r["y"]),
                                                                          Categorize()]])
    assert ds[1][0].item() == 2 and ds.vocab == ["a", "b"]


def test_datasets_show_decodes_each_part():
    class Num(int):
        def show(self, ctx=None, **kwargs):
            ctx.append(f"num {int(self)}")
            return ctx

    class ToNum(Transform):
        def decodes(self, x: int):
            return Num(x)

    ds = Datasets([(5, "a"), (6, "b")], [[ItemTransform(lambda o: o[0]), ToNum()], [ItemTransform(lambda o: o[1]),
                                                                                      Categorize()]])
    assert ds.show(ds[1], ctx=[]) == ["num 6", "b"]
