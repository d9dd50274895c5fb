"""Data factories on the kernel's DataBlock, with the bundled Fashion-MNIST sample as real PNG folders."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torchloom_vision import (
    Flip,
    ImageDataLoaders,
    PILImageBW,
    SegmentationDataLoaders,
    TensorImageBW,
    TensorMask,
    fashion_sample_path,
    fashion_seg_sample_path,
)

from torchloom import TensorCategory

CLASSES = ["Ankle_boot", "Bag", "Coat", "Dress", "Pullover", "Sandal", "Shirt", "Sneaker", "T-shirt", "Trouser"]


def seg_dls(**kwargs):
    root = fashion_seg_sample_path()
    codes = (root / "codes.txt").read_text().split()
    fnames = sorted((root / "images").glob("*.png"))
    return SegmentationDataLoaders.from_label_func(
        root, fnames, lambda p: root / "labels" / f"{Path(p).stem}_P.png", codes=codes, img_cls=PILImageBW,
        seed=0, bs=16, **kwargs), codes


def test_from_folder_uses_train_and_valid_folders():
    dls = ImageDataLoaders.from_folder(fashion_sample_path(), img_cls=PILImageBW, bs=32)
    assert list(dls.vocab) == CLASSES and dls.c == 10
    assert len(dls.train_ds) == 1000 and len(dls.valid_ds) == 300
    x, y = dls.one_batch()
    assert isinstance(x, TensorImageBW) and x.shape == (32, 1, 28, 28) and x.dtype == torch.float32
    assert 0 <= x.min() and x.max() <= 1 and x.max() > 0.5
    assert isinstance(y, TensorCategory) and y.shape == (32,)
    # labels are the parent folder names
    items = dls.valid_ds.tls[0].items
    idxs = dls.valid_ds.tls[0].idxs
    for i in range(0, 300, 37):
        assert dls.vocab[int(dls.valid_ds[i][1])] == Path(items[idxs[i]]).parent.name


def test_from_folder_random_split_and_errors(tmp_path):
    dls = ImageDataLoaders.from_folder(fashion_sample_path(), valid_pct=0.2, seed=1, img_cls=PILImageBW, bs=16)
    assert len(dls.valid_ds) == 260 and len(dls.train_ds) == 1040
    with pytest.raises(FileNotFoundError, match="'train' folder"):
        ImageDataLoaders.from_folder(fashion_sample_path() / "train", img_cls=PILImageBW)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        ImageDataLoaders.from_folder(tmp_path / "nowhere")


def test_from_name_func_and_name_re_agree():
    fnames = sorted((fashion_sample_path() / "valid").rglob("*.png"))
    a = ImageDataLoaders.from_name_func(fashion_sample_path(), fnames, lambda n: n.rsplit("_", 1)[0], seed=0,
                                        img_cls=PILImageBW, bs=8)
    b = ImageDataLoaders.from_name_re(fashion_sample_path(), fnames, r"^(.+)_\d+\.png$", seed=0,
                                      img_cls=PILImageBW, bs=8)
    assert list(a.vocab) == list(b.vocab) == CLASSES
    assert len(a.valid_ds) == 60
    assert [int(o[1]) for o in a.valid_ds] == [int(o[1]) for o in b.valid_ds]


def test_from_df_reads_columns():
    pd = pytest.importorskip("pandas")
    root = fashion_sample_path()
    files = sorted(root.rglob("*.png"))[::10]
    df = pd.DataFrame({"fname": [str(f.relative_to(root)) for f in files],
                       "label": [f.parent.name for f in files],
                       "is_valid": [f.parts[-3] == "valid" for f in files]})
    dls = ImageDataLoaders.from_df(df, root, valid_col="is_valid", img_cls=PILImageBW, bs=8)
    assert len(dls.valid_ds) == int(df.is_valid.sum()) == 30 and len(dls.train_ds) == len(files) - 30
    x, y = dls.one_batch()
    assert x.shape == (8, 1, 28, 28)


def test_segmentation_masks_match_their_images():
    dls, codes = seg_dls()
    assert len(codes) == 11 and len(dls.train_ds) + len(dls.valid_ds) == 200
    x, y = dls.one_batch()
    assert isinstance(y, TensorMask) and y.shape == (16, 28, 28) and y.dtype == torch.long
    assert int(y.max()) <= 10
    # derived masks: foreground where the pixel > 30, with one class code per image
    fg = (x[:, 0] * 255).round() > 30
    assert torch.equal(fg, y > 0)
    assert all(len(set(m[m > 0].tolist())) == 1 for m in y)


def test_batch_flip_keeps_masks_aligned():
    dls, _ = seg_dls(batch_tfms=[Flip(p=1.0)])
    x, y = dls.one_batch()
    assert torch.equal((x[:, 0] * 255).round() > 30, y > 0)


def test_show_batch_renders(tmp_path):
    plt = pytest.importorskip("matplotlib.pyplot")
    from torchloom_vision import show_batch

    dls = ImageDataLoaders.from_folder(fashion_sample_path(), img_cls=PILImageBW, bs=16)
    fig = show_batch(dls, max_n=6)
    assert len(fig.axes) >= 6 and fig.axes[0].get_title() in CLASSES
    fig.savefig(tmp_path / "cls.png")
    sdls, _ = seg_dls()
    fig2 = show_batch(sdls, max_n=4)
    assert len(fig2.axes[0].images) == 2  # the mask is drawn over its image
    fig2.savefig(tmp_path / "seg.png")
    assert (tmp_path / "cls.png").stat().st_size > 5000 and (tmp_path / "seg.png").stat().st_size > 5000
    dls.show_batch(max_n=4)  # the kernel's own show_batch draws our types too
    plt.close("all")


def test_normalize_without_stats_learns_them_from_a_training_batch():
    from torchloom_vision import Normalize

    dls = ImageDataLoaders.from_folder(fashion_sample_path(), img_cls=PILImageBW, bs=64, batch_tfms=[Normalize()])
    norm = next(t for t in dls.train.after_batch.fs if isinstance(t, Normalize))
    assert norm.mean is not None and 0.2 < float(norm.mean.flatten()[0]) < 0.4  # Fashion-MNIST mean ~0.29
    x, _ = dls.valid.one_batch()
    assert abs(float(x.mean())) < 0.3 and 0.7 < float(x.std()) < 1.3
    back = dls.valid.decode((x, _))[0]
    assert back.dtype == torch.uint8  # decoded through Normalize and IntToFloatTensor
