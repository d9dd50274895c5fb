"""DataLoaders: from_dsets, train/valid, vocab/c/n_inp, test_dl, decode/show_batch, new_empty, spec round trip."""
import json

import pytest
import torch

from tests.kernel.data.helpers import TensorImage, make_img
from torchloom import (
    Categorize,
    DataLoader,
    DataLoaders,
    Datasets,
    IntToFloatTensor,
    ItemGetter,
    TensorCategory,
    Transform,
)
from torchloom.data._getters import Getter
from torchloom.data._spec import dataloaders_from_spec, dataloaders_spec


class MakeImg(Transform):
    """Module-level (exportable) transform: int -> TensorImage."""

    def encodes(self, x: int) -> TensorImage:
        return make_img(x)


ITEMS = [(i, "b" if i % 3 == 0 else "a") for i in range(40)]


def make_dls(**kw):
    ds = Datasets(ITEMS, [[ItemGetter(0), MakeImg()], [ItemGetter(1), Categorize()]],
                  splits=[list(range(32)), list(range(32, 40))])
    return ds.dataloaders(bs=8, after_batch=[IntToFloatTensor()], **kw)


def test_from_dsets_train_shuffles_valid_in_order():
    dls = make_dls(seed=0)
    assert dls.train.shuffle and dls.train.drop_last and not dls.valid.shuffle and not dls.valid.drop_last
    assert len(dls.train_ds) == 32 and len(dls.valid_ds) == 8 and len(dls) == 2
    xs = [b[0][:, 0, 0, 0] for b in dls.valid]
    assert torch.allclose(torch.cat(xs), torch.arange(32, 40) / 255)
    assert dls.vocab == ["a", "b"] and dls.c == 2 and dls.n_inp == 1 and dls.bs == 8


def test_val_bs_and_unknown_kwarg():
    dls = make_dls(val_bs=4)
    assert dls.valid.bs == 4 and len(dls.valid) == 2
    with pytest.raises(TypeError, match="shufle"):
        make_dls(shufle=False)


def test_one_batch_types_and_device():
    dls = make_dls(device="cpu")
    x, y = dls.one_batch()
    assert type(x) is TensorImage and type(y) is TensorCategory and x.dtype == torch.float32
    assert dls.device == torch.device("cpu")
    dls.to("cpu")
    assert dls.valid.device == torch.device("cpu")


def test_test_dl_uses_valid_transforms_without_labels():
    dls = make_dls()
    tdl = dls.test_dl([(5, "zzz"), (6, "a")])  # labels are ignored (not even looked up)
    (x,) = tdl.one_batch()
    assert x.shape == (2, 3, 4, 4) and torch.allclose(x[:, 0, 0, 0], torch.tensor([5, 6]) / 255)
    tdl2 = dls.test_dl([(3, "b")], with_labels=True)
    x2, y2 = tdl2.one_batch()
    assert y2.tolist() == [1]
    assert not tdl.shuffle


def test_decode_batch_returns_labels():
    dls = make_dls()
    b = dls.valid.one_batch()
    samples = dls.valid.decode_batch(b, max_n=3)
    assert len(samples) == 3
    img, lbl = samples[1]
    assert lbl == "b" and img.dtype == torch.uint8 and img[0, 0, 0].item() == 33


def test_show_batch_without_show_returns_samples_and_draws_with_matplotlib():
    dls = make_dls()
    samples = dls.show_batch(max_n=4, show=False)
    assert len(samples) == 4
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    ctxs = dls.show_batch(max_n=4).axes  # the figure (a notebook draws it once, no Axes list printed)
    assert len(ctxs) == 4 and ctxs[0].get_title() in ("a", "b")


def test_new_empty_keeps_transforms_for_inference():
    dls = make_dls()
    empty = dls.new_empty()
    assert len(empty.train_ds) == 0 and empty.vocab == ["a", "b"]
    (x,) = empty.test_dl([(7, None)]).one_batch()
    assert torch.allclose(x[0, 0, 0, 0], torch.tensor(7 / 255))


def test_spec_round_trip_json_and_tensors():
    dls = make_dls()
    spec, tensors = dataloaders_spec(dls)
    text = json.dumps(spec)  # JSON-able
    assert "torchloom.data._transforms:Categorize" in text or '"categorize"' in text
    rebuilt = dataloaders_from_spec(json.loads(text), tensors)
    assert rebuilt.vocab == ["a", "b"] and rebuilt.n_inp == 1 and rebuilt.train.bs == 8
    (x,) = rebuilt.test_dl([(9, None)]).one_batch()
    assert torch.allclose(x[0, 0, 0, 0], torch.tensor(9 / 255))
    b = dls.valid.one_batch()
    assert rebuilt.valid.decode_batch(b, max_n=2)[0][1] == dls.valid.decode_batch(b, max_n=2)[0][1]


def test_spec_refuses_non_transforms_and_unexportable_functions():
    dls = make_dls()
    spec, tensors = dataloaders_spec(dls)
    spec["tls"][0][0]["target"] = "os:system"
    with pytest.raises(ValueError, match="not a Transform subclass"):
        dataloaders_from_spec(spec, tensors)
    bad = Datasets([1, 2], [[Getter(lambda o: o)]], splits=[[0], [1]]).dataloaders(bs=1)
    with pytest.raises(TypeError, match="cannot be exported"):
        dataloaders_spec(bad)


def test_spec_tensor_state_goes_to_tensors():
    class WithStats(Transform):
        def __init__(self):
            super().__init__()
            self.mean = torch.tensor([0.5])

        def state_dict(self):
            return {"mean": self.mean}

    ds = Datasets([1, 2], [[WithStats()]], splits=[[0], [1]])
    dls = DataLoaders(DataLoader(ds.train), DataLoader(ds.valid))
    with pytest.raises(TypeError, match="module-level"):
        dataloaders_spec(dls)  # a class defined in a function cannot be rebuilt by name


def test_dataloaders_needs_loaders():
    with pytest.raises(ValueError, match="at least one"):
        DataLoaders()


def test_loss_func_from_target_transform():
    from torchloom import CrossEntropyLossFlat

    dls = make_dls()
    assert isinstance(dls.train_ds.loss_func, CrossEntropyLossFlat)
    assert isinstance(dls.loss_func, CrossEntropyLossFlat)


def test_show_results_decodes_predictions_like_targets():
    dls = make_dls()
    b = dls.valid.one_batch()
    preds = torch.ones(len(b[1]), dtype=torch.long)  # a plain tensor, as a model's decoded output
    samples = dls.valid.show_results(b, preds, max_n=3, show=False)
    assert [s[1:] for s in samples] == [("a", "b"), ("b", "b"), ("a", "b")]  # items 32, 33, 34
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    axs = dls.valid.show_results(b, preds, max_n=2).axes
    assert axs[0].get_title() == "a/b" and axs[1].get_title() == "b/b"


def test_custom_get_idxs_pins_order_and_survives_new():
    dls = make_dls()
    dl = dls.valid.new(get_idxs=lambda: [7, 6, 5, 4, 3, 2, 1, 0])
    x, _ = dl.one_batch()
    assert torch.allclose(x[:, 0, 0, 0] * 255, torch.arange(39, 31, -1).float())
    assert dl.new(bs=4).get_idxs()[0] == 7


def test_test_dl_kwargs_override_defaults():
    dls = make_dls()
    tdl = dls.test_dl([(1, "a"), (2, "a"), (3, "a")], bs=2, drop_last=True)
    assert tdl.bs == 2 and len(tdl) == 1
    with pytest.raises(TypeError, match="bogus"):
        dls.test_dl([(1, "a")], bogus=1)


def test_decode_casts_plain_predictions_to_sample_types_also_after_spec_round_trip():
    dls = make_dls()
    assert dls.valid.types == (TensorImage, TensorCategory)
    x = dls.valid.one_batch()[0][:2]
    plain_pred = torch.tensor([1, 0])  # e.g. an argmax: no semantic type
    assert [s[1] for s in dls.valid.decode_batch((x, plain_pred))] == ["b", "a"]
    spec, tensors = dataloaders_spec(dls)
    rebuilt = dataloaders_from_spec(json.loads(json.dumps(spec)), tensors)
    assert len(rebuilt.valid_ds) == 0 and rebuilt.valid.types == (TensorImage, TensorCategory)
    assert [s[1] for s in rebuilt.decode_batch((x, plain_pred))] == ["b", "a"]


def test_add_tfms_to_an_event():
    class Negate(Transform):
        order = 20  # after IntToFloatTensor (10)

        def encodes(self, x: TensorImage):
            return -x

    dls = make_dls()
    dls.add_tfms(Negate(), "after_batch", loaders=[1])
    assert (dls.valid.one_batch()[0] <= 0).all() and (dls.train.one_batch()[0] >= 0).all()
    with pytest.raises(ValueError, match="event"):
        dls.add_tfms(Negate(), "after_everything")
    assert "DataLoader(n=32" in repr(dls)


def test_test_dl_rm_type_tfms_skips_leading_dataset_transforms():
    dls = make_dls()
    tdl = dls.test_dl([make_img(4)], rm_type_tfms=2)  # items already images: skip ItemGetter and MakeImg
    (x,) = tdl.one_batch()
    assert torch.allclose(x[0, 0, 0, 0], torch.tensor(4 / 255))
    assert len(dls.valid_ds.tls[0].tfms) == 2  # the original pipelines are untouched


def test_dataloaders_from_datasets_default_to_the_default_device():
    from torchloom._tensors import default_device

    dls = make_dls()
    assert dls.device == default_device() and dls.valid.device == default_device()
    assert dls.one_batch()[0].device.type == default_device().type
