"""Transform: overloads by annotation, pass-through, tuples, retained types, split_idx, randomness, setup."""

import random
from typing import Union

import pytest
import torch

from tests.kernel.data.helpers import TensorImage, TensorMask
from torchloom import (
    ItemTransform,
    Pipeline,
    RandTransform,
    TensorBase,
    TensorCategory,
    Transform,
    TypeDispatch,
)
from torchloom._transform import DisplayedTransform, TransformError


class Multi(Transform):
    def encodes(self, x: int):
        return x + 1

    def encodes(self, x: Union[float, str]):  # noqa: F811
        return f"fs:{x}"

    def encodes(self, x: TensorBase):  # noqa: F811
        return x.as_subclass(torch.Tensor) * 2  # plain result: type must be restored

    def decodes(self, x: int):
        return x - 1


def test_overloads_by_annotation_and_union():
    t = Multi()
    assert t(1) == 2
    assert t(1.5) == "fs:1.5"
    assert t("a") == "fs:a"
    assert t.decode(t(5)) == 5


def test_unmatched_types_pass_through_unchanged():
    t = Multi()
    obj = [1, 2]
    assert t(obj) is obj
    assert t.decode("x") == "x"  # no str decodes


def test_mro_resolution_and_retained_return_type():
    r = Multi()(TensorImage(torch.ones(2), tag=7))
    assert type(r) is TensorImage and r.tag == 7
    assert torch.equal(r.as_subclass(torch.Tensor), torch.full((2,), 2.0))


def test_bool_goes_to_int_overload_unless_more_specific():
    class B(Multi):
        def encodes(self, x: bool):
            return "bool"

    assert Multi()(True) == 2
    assert B()(True) == "bool" and B()(3) == 4  # inherited overloads kept


def test_tuples_are_mapped_and_container_type_kept():
    t = Multi()
    assert t((1, 2.0, [3])) == (2, "fs:2.0", [3])

    class Pair(tuple):
        pass

    r = t(Pair((1, 2)))
    assert type(r) is Pair and r == (2, 3)


def test_tuple_annotation_takes_whole_tuple():
    class Swap(Transform):
        def encodes(self, x: tuple):
            return (x[1], x[0])

    assert Swap()((1, 2)) == (2, 1)


def test_item_transform_gets_whole_tuple():
    class Swap(ItemTransform):
        def encodes(self, x):
            return [x[1], x[0]]

    assert Swap()((1, 2)) == (2, 1)


def test_return_annotation_casts_and_none_disables():
    class ToImg(Transform):
        def encodes(self, x: torch.Tensor) -> TensorImage:
            return x + 0

    class Keep(Transform):
        def encodes(self, x: TensorImage) -> None:
            return x.as_subclass(torch.Tensor)

    assert type(ToImg()(torch.ones(1))) is TensorImage
    assert type(Keep()(TensorImage(torch.ones(1)))) is torch.Tensor


def test_function_transforms():
    def double(x: int):
        return x * 2

    t = Transform(double)
    assert t(3) == 6 and t("a") == "a" and t.name == "double"
    t2 = Transform(enc=lambda x: x + 1, dec=lambda x: x - 1, order=3)
    assert t2(1) == 2 and t2.decode(2) == 1 and t2.order == 3
    with pytest.raises(TypeError, match="callable"):
        Transform(enc=5)


def test_split_idx_semantics():
    class TrainOnly(Transform):
        split_idx = 0

        def encodes(self, x: int):
            return x + 100

    t = TrainOnly()
    assert t(1) == 1  # called with no split: skipped (fastai semantics)
    assert t(1, split_idx=0) == 101
    assert t(1, split_idx=1) == 1
    v = Transform(lambda x: -x, split_idx=1)
    assert v(2, split_idx=1) == -2 and v(2, split_idx=0) == 2


def test_rand_transform_draws_once_per_tuple():
    class Shift(RandTransform):
        def before_call(self, b, split_idx):
            super().before_call(b, split_idx)
            self.k = random.randint(1, 1000)

        def encodes(self, x: TensorBase):
            return x + self.k

    t = Shift()
    for _ in range(5):
        img, msk = t((TensorImage(torch.zeros(1)), TensorMask(torch.zeros(1))), split_idx=0)
        assert img.item() == msk.item() > 0
    assert t(TensorImage(torch.zeros(1)), split_idx=1).item() == 0  # train only by default
    never = Shift(p=0.0)
    assert never(TensorImage(torch.zeros(1)), split_idx=0).item() == 0


def test_setups_exceptions_are_not_swallowed():
    class Bad(Transform):
        def setups(self, items):
            raise AttributeError("a real bug in setups")

    with pytest.raises(AttributeError, match="a real bug"):
        Bad().setup([1, 2])
    with pytest.raises(AttributeError, match="setup of transform 'Bad' failed: a real bug"):
        Pipeline([Bad()]).setup([1])


def test_setups_dispatch_and_train_setup():
    class Mean(Transform):
        def setups(self, items):
            self.m = sum(items) / len(items)

        def encodes(self, x: float):
            return x - self.m

    class Items(list):
        @property
        def train(self):
            return Items(self[:2])

    t = Mean()
    t.setup(Items([1.0, 3.0, 100.0]), train_setup=True)
    assert t.m == 2.0
    t.setup(Items([1.0, 3.0, 8.0]), train_setup=False)
    assert t.m == 4.0


def test_dispatch_cache_includes_misses():
    class T(Transform):
        def encodes(self, x: int):
            return x

    t = T()
    t("s")
    t(1)
    assert T._tl_encodes.cache[str] is None
    assert T._tl_encodes.cache[int] is not None


def test_extend_adds_overload_explicitly_to_class_and_subclasses():
    class Base(Transform):
        def encodes(self, x: int):
            return x + 1

    class Child(Base):
        pass

    class NewType(str):
        pass

    assert Base()(NewType("a")) == "a"

    @Base.extend
    def encodes(self, x: NewType):
        return "extended"

    assert Base()(NewType("a")) == "extended"
    assert Child()(NewType("a")) == "extended"

    class OwnChild(Base):
        def encodes(self, x: NewType):
            return "own"

    @Base.extend
    def encodes(self, x: NewType):  # noqa: F811 - a second extension does not override OwnChild's own
        return "extended again"

    assert OwnChild()(NewType("a")) == "own" and Child()(NewType("a")) == "extended again"
    with pytest.raises(ValueError, match="encodes"):
        Base.extend(lambda self, x: x)


def test_typedispatch_standalone_and_abc():
    import os
    from pathlib import Path

    td = TypeDispatch([lambda x: "num", lambda x: "other"], skip_self=False)
    td.funcs.clear()

    def f_int(x: int):
        return "int"

    def f_path(x: os.PathLike):
        return "path"

    td.add(f_int)
    td.add(f_path)
    assert td(3) == "int" and td(Path("a")) == "path" and td("s") == "s"
    assert int in td and str not in td


def test_config_and_state_defaults():
    class P(DisplayedTransform):
        def __init__(self, size: int = 3, mode: str = "a"):
            super().__init__()
            self.size, self.mode = size, mode

    p = P(5)
    assert p.get_config() == {"size": 5, "mode": "a"}
    assert p.state_dict() == {}
    assert "size" in p.name

    class Q(Transform):
        def __init__(self, fn=None):
            super().__init__()
            self.fn = fn

    with pytest.raises(TypeError, match="'fn'"):
        Q(fn=print).get_config()


def test_transform_to_moves_tensor_state():
    class N(Transform):
        def __init__(self):
            super().__init__()
            self.mean = torch.ones(3)

    n = N().to("cpu")
    assert n.mean.device.type == "cpu"


def test_category_dispatch_on_typed_label():
    class OnlyCat(Transform):
        def encodes(self, x: TensorCategory):
            return x + 1

    img, cat = OnlyCat()((TensorImage(torch.zeros(1)), TensorCategory(1)))
    assert img.item() == 0 and cat.item() == 2 and type(cat) is TensorCategory


def test_error_names_transform():
    def boom(x: int):
        raise ValueError("nope")

    p = Pipeline([Transform(boom)])
    with pytest.raises(TransformError, match="transform 'boom' failed on 3: ValueError: nope") as ei:
        p(3)
    assert isinstance(ei.value.__cause__, ValueError)
