"""Item transforms: one crop box per item moves the image, its mask and its points together."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torchloom_vision import (
    CropPad,
    Normalize,
    PILImageBW,
    PILMask,
    PointScaler,
    RandomResizedCrop,
    Resize,
    TensorImage,
    TensorImageBW,
    TensorMask,
    TensorPoint,
    ToTensor,
    imagenet_stats,
)

W, H = 30, 20


def item(x=7, y=5):
    """A 30x20 grey image with one bright 1x1 pixel at (x, y), its mask, and a point at the pixel centre."""
    arr = np.zeros((H, W), np.uint8)
    arr[y, x] = 255
    pts = TensorPoint.create([[x + 0.5, y + 0.5]], img_size=(W, H))
    return PointScaler()((PILImageBW.create(arr), PILMask.create((arr > 0).astype(np.uint8) * 4), pts))


def pixel_of_point(p, size):
    px = (p[0, 0].item() + 1) * size[1] / 2
    py = (p[0, 1].item() + 1) * size[0] / 2
    return py, px


def test_point_scaler_round_trip():
    ps = PointScaler()
    b = item()
    assert torch.allclose(b[2], torch.tensor([[7.5 * 2 / W - 1, 5.5 * 2 / H - 1]]))
    back = ps.decode(ToTensor()(b))[2]
    assert torch.allclose(back, torch.tensor([[7.5, 5.5]]))


@pytest.mark.parametrize("tfm,expect_rc", [
    (Resize((10, 15), method="squish"), (2, 3)),  # 30x20 -> 15x10 halves both axes
    (Resize(20, method="crop"), (5, 2)),           # centre crop 20x20 from x=5..25, same scale
    (Resize(15, method="pad", pad_mode="zeros"), (5, 3)),            # 30x30 padded box (y from -5), scaled by 1/2
    (CropPad(10), (0, -3)),                        # centre 10x10 window starts at (x=10, y=5)
])
def test_resize_methods_move_image_mask_and_point_together(tfm, expect_rc):
    img, mask, pts = ToTensor()(tfm(item(), split_idx=1))
    size = tfm.size
    assert img.shape[-2:] == size and mask.shape == size
    assert isinstance(img, TensorImageBW) and isinstance(mask, TensorMask)
    py, px = pixel_of_point(pts, size)
    assert (math.floor(py), math.floor(px)) == expect_rc
    if 0 <= expect_rc[0] < size[0] and 0 <= expect_rc[1] < size[1]:
        r, c = np.unravel_index(int(img.argmax()), size)
        assert (r, c) == expect_rc
        assert set(mask.unique().tolist()) <= {0, 4}  # nearest: codes never blend


def test_resize_crop_is_random_on_train_and_centred_on_valid():
    tfm = Resize(20)
    valid = {pixel_of_point(tfm(item(), split_idx=1)[2], (20, 20)) for _ in range(5)}
    assert len(valid) == 1
    train = {pixel_of_point(tfm(item(), split_idx=0)[2], (20, 20)) for _ in range(20)}
    assert len(train) > 5
    for py, _ in train:  # the crop only moves along x (the image is wider than tall)
        assert 5 <= py < 6


def test_random_resized_crop_train_and_valid():
    tfm = RandomResizedCrop(16, min_scale=0.3)
    outs = [ToTensor()(tfm(item(), split_idx=0)) for _ in range(10)]
    assert all(o[0].shape[-2:] == (16, 16) for o in outs)
    v1, v2 = (ToTensor()(tfm(item(), split_idx=1)) for _ in range(2))
    assert torch.equal(v1[0], v2[0])
    with pytest.raises(ValueError, match="min_scale"):
        RandomResizedCrop(16, min_scale=0)


def test_resize_rejects_unknown_method():
    with pytest.raises(ValueError, match="zoom"):
        Resize(10, method="zoom")


def test_normalize_round_trip_and_stats():
    x = TensorImage(torch.rand(4, 3, 5, 5))
    n = Normalize.from_stats(*imagenet_stats)
    y = n(x)
    assert isinstance(y, TensorImage)
    assert torch.allclose(y[:, 0], (x[:, 0] - 0.485) / 0.229)
    assert torch.allclose(n.decode(y), x, atol=1e-6)
    assert torch.equal(n(TensorImage(torch.zeros(1, 3, 2, 2, dtype=torch.uint8))), torch.zeros(1, 3, 2, 2))
    again = Normalize(**n.get_config())
    again.load_state_dict(n.state_dict())
    assert torch.allclose(again(x), y)


def test_normalize_computes_stats_from_a_batch():
    class FakeDL:
        def one_batch(self):
            return (TensorImage(torch.randn(64, 2, 8, 8) * 3 + 5), None)

    n = Normalize()
    n.setup(FakeDL())
    out = n(TensorImage(torch.randn(64, 2, 8, 8) * 3 + 5))
    assert abs(out.mean().item()) < 0.2 and abs(out.std().item() - 1) < 0.2


def test_item_tfm_configs_rebuild():
    for t in [Resize((10, 12), "pad"), CropPad(8), RandomResizedCrop(16, 0.5)]:
        assert type(t)(**t.get_config()).get_config() == t.get_config()
