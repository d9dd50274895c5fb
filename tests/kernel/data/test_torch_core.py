"""Typed tensors: subtype and metadata survive ops, mixing subtypes works, pickling/copying/stripping."""
from __future__ import annotations

import copy
import pickle

import pytest
import torch
import torch.nn.functional as F

from tests.kernel.data.helpers import TensorImage, TensorMask
from torchloom import TensorBase, TensorCategory, TensorMultiCategory, to_device, to_plain
from torchloom._tensors import retain_type, retain_types


def test_ops_keep_subtype_and_metadata():
    t = TensorImage(torch.rand(3, 4, 4), foo="bar")
    for r in (t + 1, t * 1.0, t.mean(), t[0], torch.cat([t, t]), t.float(), t.view(-1), t.clone(), t.to("cpu")):
        assert type(r) is TensorImage
        assert r.foo == "bar"
    assert torch.equal(to_plain(t + 1), to_plain(t) + 1)


def test_metadata_is_copied_not_shared():
    t = TensorImage(torch.zeros(2), codes=["a"])
    r = t + 1
    r.extra = 1
    assert not hasattr(t, "extra")


def test_no_metadata_means_empty_dict():
    r = TensorImage(torch.zeros(2)) * 2
    assert r.__dict__ == {}


def test_mixing_unrelated_subtypes_works_left_operand_wins():
    img, msk = TensorImage(torch.ones(2, 2)), TensorMask(torch.ones(2, 2))
    assert type(img + msk) is TensorImage
    assert type(msk + img) is TensorMask
    cat = TensorCategory(torch.tensor([0, 1]))
    logits = TensorImage(torch.randn(2, 3))
    loss = F.cross_entropy(logits, cat)  # fastai raises TypeError here
    assert loss.ndim == 0
    assert type(img[TensorCategory(torch.tensor([0]))]) is TensorImage


def test_most_derived_type_wins():
    base, img = TensorBase(torch.ones(2)), TensorImage(torch.ones(2))
    assert type(base + img) is TensorImage
    assert type(TensorMultiCategory(torch.ones(2)) + TensorCategory(torch.ones(2))) is TensorMultiCategory


def test_tuple_results_rewrapped():
    t = TensorImage(torch.rand(4, 3), a=1)
    mx = t.max(0)
    assert type(mx.values) is TensorImage and mx.values.a == 1
    assert all(type(p) is TensorImage for p in t.split(2))


def test_non_tensor_results_untouched():
    t = TensorImage(torch.tensor([1.5]))
    assert isinstance(t.item(), float)
    assert t.tolist() == [1.5]
    assert isinstance(t.shape, torch.Size)


def test_pickle_and_deepcopy_keep_type_and_meta():
    t = TensorImage(torch.rand(2, 2), foo={"k": [1]})
    for r in (pickle.loads(pickle.dumps(t)), copy.deepcopy(t)):
        assert type(r) is TensorImage
        assert r.foo == {"k": [1]}
        assert torch.equal(to_plain(r), to_plain(t))
    d = copy.deepcopy(t)
    d.foo["k"].append(2)
    assert t.foo == {"k": [1]}


def test_autograd_flows_through_typed_tensors():
    w = torch.ones(3, requires_grad=True)
    loss = (TensorImage(torch.tensor([1.0, 2.0, 3.0])) * w).sum()
    loss.backward()
    assert torch.equal(w.grad, torch.tensor([1.0, 2.0, 3.0]))


def test_constructor_from_list_and_repr():
    c = TensorCategory([1, 2])
    assert type(c) is TensorCategory and c.dtype == torch.int64
    assert repr(TensorCategory(3)).startswith("TensorCategory(3")


def test_to_plain_recursive_and_cheap():
    t = TensorImage(torch.ones(2), foo=1)
    out = to_plain({"a": (t, [t]), "b": 3})
    assert type(out["a"][0]) is torch.Tensor and type(out["a"][1][0]) is torch.Tensor
    assert out["b"] == 3
    assert out["a"][0].data_ptr() == t.data_ptr()  # no copy
    assert not hasattr(out["a"][0], "foo")


def test_to_device_keeps_types():
    b = (TensorImage(torch.ones(2)), [TensorCategory(1)], {"k": TensorMask(torch.ones(1))})
    r = to_device(b, "cpu")
    assert type(r[0]) is TensorImage and type(r[1][0]) is TensorCategory and type(r[2]["k"]) is TensorMask
    assert to_device(b, None) is b


def test_retain_type_upcasts_only():
    old = TensorImage(torch.ones(1), m=1)
    r = retain_type(torch.zeros(1), old)
    assert type(r) is TensorImage and r.m == 1
    assert type(retain_type(TensorMask(torch.zeros(1)), old)) is TensorMask  # sideways: left alone
    assert retain_type(3, old) == 3
    rt = retain_types((torch.zeros(1), torch.zeros(1)), (old, TensorCategory(0)))
    assert [type(x) for x in rt] == [TensorImage, TensorCategory]


def test_show_on_types_is_protocol():
    class TensorText(TensorBase):
        def show(self, ctx=None, **kwargs):
            ctx.append("text!")
            return ctx

    ctx = TensorText(torch.zeros(1)).show(ctx=[])
    assert ctx == ["text!"]
    assert not hasattr(TensorCategory(2), "show")  # decoding continues to the label, which shows


def test_retyping_keeps_metadata_and_set_meta():
    t = TensorBase(torch.ones(1), foo=1)
    r = TensorImage(t, bar=2)
    assert type(r) is TensorImage and r.foo == 1 and r.bar == 2
    c = TensorCategory(0).set_meta(TensorImage(torch.ones(1), codes=["a"]), as_copy=True)
    assert c.codes == ["a"]


@pytest.mark.slow
def test_torch_compile_accepts_typed_inputs():
    """fastai's TensorImage breaks torch.compile (RecursionError / BackendCompilerFailed); ours traces."""
    from torch import nn

    torch._dynamo.reset()
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    x = TensorImage(torch.rand(4, 3, 8, 8))
    out = torch.compile(m, backend="eager")(x)
    assert torch.allclose(to_plain(out), m(to_plain(x)), atol=1e-6)
    torch._dynamo.reset()
