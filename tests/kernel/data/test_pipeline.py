"""Pipeline: order, incremental train-only setup, decode backwards, attribute gathering, show."""

import pytest

from torchloom import Pipeline, Transform
from torchloom.data._lists import TfmdLists


class Add(Transform):
    def __init__(self, n: int, order: int = 0):
        super().__init__(order=order)
        self.n = n

    def encodes(self, x: int):
        return x + self.n

    def decodes(self, x: int):
        return x - self.n


class Mul(Transform):
    order = 5

    def encodes(self, x: int):
        return x * 10

    def decodes(self, x: int):
        return x // 10


def test_sorted_by_order_stable():
    a1, a2 = Add(1), Add(2)
    p = Pipeline([Mul(), a1, a2])
    assert [type(f) for f in p.fs] == [Add, Add, Mul]
    assert p.fs[0] is a1 and p.fs[1] is a2
    assert p(1) == 40
    assert p.decode(p(1)) == 1


def test_functions_and_classes_accepted():
    p = Pipeline([lambda x: x * 2, Mul])
    assert p(3) == 60
    assert len(p) == 2 and "Mul" in repr(p)


def test_setup_sees_items_processed_by_earlier_transforms_on_train_split():
    seen = {}

    class Spy(Transform):
        def setups(self, items):
            seen["items"] = list(items)

    TfmdLists([1, 2, 3, 4], [Transform(lambda x: x * 2), Spy()], splits=[[0, 1], [2, 3]])
    assert seen["items"] == [2, 4]


def test_setup_on_plain_list_gets_raw_items():
    seen = {}

    class Spy(Transform):
        def setups(self, items):
            seen["items"] = list(items)

    Pipeline([Add(1), Spy()]).setup([5, 6])
    assert seen["items"] == [5, 6]


def test_gather_attrs():
    p = Pipeline([Add(1), Add(2), Mul()])
    assert p.n == [1, 2]
    with pytest.raises(AttributeError, match="vocab"):
        _ = p.vocab


def test_split_idx_applies_to_each_transform():
    tr = Transform(lambda x: x + 1, split_idx=0)
    assert Pipeline([tr], split_idx=0)(1) == 2
    assert Pipeline([tr], split_idx=1)(1) == 1


def test_show_decodes_until_showable():
    class Label(str):
        def show(self, ctx=None, **kw):
            ctx.append(str(self))
            return ctx

    class ToLabel(Transform):
        def encodes(self, x: str):
            return len(x)

        def decodes(self, x: int):
            return Label("n=" + str(x))

    p = Pipeline([ToLabel()])
    assert p.show(p("abc"), ctx=[]) == ["n=3"]
    with pytest.raises(TypeError, match="show"):
        Pipeline([]).show(3, ctx=[])
