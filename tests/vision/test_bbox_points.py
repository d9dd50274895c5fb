"""Boxes and points through the DataBlock: derived boxes on the bundled sample follow a batch flip exactly,
items with different box counts batch together, and point items keep their point on the marked pixel."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torchloom_vision import (
    BBoxBlock,
    BBoxLblBlock,
    Flip,
    ImageBlock,
    PILImageBW,
    PointBlock,
    Resize,
    TensorBBox,
    TensorPoint,
    fashion_sample_path,
)

from torchloom import DataBlock, IndexSplitter


def garment_box(fn):
    """The box around the pixels brighter than 30 (derived, like the segmentation masks)."""
    a = np.asarray(Image.open(fn)) > 30
    ys, xs = np.nonzero(a)
    return [[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]]


def box_of_pixels(img):
    ys, xs = torch.nonzero((img[0] * 255).round() > 30, as_tuple=True)
    return [xs.min().item(), ys.min().item(), xs.max().item() + 1, ys.max().item() + 1]


def test_boxes_follow_a_batch_flip_and_pad():
    files = sorted((fashion_sample_path() / "valid").rglob("*.png"))[::30]

    def boxes(fn):  # every other item gets a second (empty-after-crop) box to exercise padding
        b = garment_box(fn)
        return b + [[0, 0, 0, 0]] if int(fn.stem.rsplit("_", 1)[1]) % 2 else b

    def labels(fn):
        return [fn.parent.name] * len(boxes(fn))

    dblock = DataBlock(blocks=(ImageBlock(PILImageBW), BBoxBlock, BBoxLblBlock), n_inp=1,
                       get_y=[boxes, labels], splitter=IndexSplitter([0]), batch_tfms=[Flip(p=1.0)])
    dls = dblock.dataloaders(files, bs=len(files) - 1, shuffle=False)
    x, bb, lbl = dls.train.one_batch()
    assert isinstance(bb, TensorBBox) and bb.shape == (len(files) - 1, 1, 4)  # empty boxes dropped, padded
    assert lbl.shape == (len(files) - 1, 1) and (lbl > 0).all()  # index 0 is the padding class
    orig = np.asarray(Image.open(files[1]), dtype=np.float32)  # train item 0 (item 0 is the valid one)
    assert np.allclose(x[0, 0].numpy() * 255, orig[:, ::-1], atol=0.51)  # the batch really was flipped
    for img, b in zip(x, bb):
        pix = ((b[0] + 1) * 28 / 2).tolist()
        assert np.allclose(pix, box_of_pixels(img), atol=1e-4)  # the flipped box is the flipped image's box
    dec = dls.train.decode_batch((x, bb, lbl), max_n=2)
    assert str(dec[0][2][0]) == files[1].parent.name


def test_points_stay_on_their_pixel_through_resize_and_flip():
    rng = np.random.default_rng(0)
    items = []
    for _ in range(8):
        a = np.zeros((20, 30), np.uint8)
        y, x = rng.integers(2, 18), rng.integers(2, 28)
        a[y, x] = 255
        items.append((a, [[x + 0.5, y + 0.5]]))
    dblock = DataBlock(blocks=(ImageBlock(PILImageBW), PointBlock), get_x=lambda o: o[0], get_y=lambda o: o[1],
                       splitter=IndexSplitter([0]), item_tfms=[Resize((40, 60), method="squish")],
                       batch_tfms=[Flip(p=1.0)])
    dls = dblock.dataloaders(items, bs=7, shuffle=False)
    x, p = dls.train.one_batch()
    assert isinstance(p, TensorPoint) and p.shape == (7, 1, 2)
    for (_, orig), img, pt in zip(items[1:], x, p):
        r, c = np.unravel_index(int(img[0].argmax()), (40, 60))
        px, py = ((pt[0, 0] + 1) * 60 / 2).item(), ((pt[0, 1] + 1) * 40 / 2).item()
        assert abs(px - (c + 0.5)) <= 1.0 and abs(py - (r + 0.5)) <= 1.0
        assert abs(px - (60 - 2 * orig[0][0])) < 1e-3 and abs(py - 2 * orig[0][1]) < 1e-3  # squished x2, mirrored
