"""Image types and IO: creation from paths, arrays, bytes and tensors; errors that name the file; show."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from torchloom_vision import (
    PILImage,
    PILImageBW,
    PILMask,
    TensorBBox,
    TensorImage,
    TensorImageBW,
    TensorMask,
    TensorPoint,
    fashion_sample_path,
)
from torchloom_vision.core import retype


def a_png(tmp_path, arr, name="x.png"):
    p = tmp_path / name
    Image.fromarray(arr).save(p)
    return p


def test_create_from_path_converts_mode(tmp_path):
    p = a_png(tmp_path, np.full((5, 7), 100, np.uint8))
    im = PILImage.create(p)
    assert isinstance(im, PILImage) and im.mode == "RGB" and im.size == (7, 5) and im.shape == (5, 7)
    bw = PILImageBW.create(str(p))
    assert isinstance(bw, PILImageBW) and bw.mode == "L"
    assert np.asarray(bw)[0, 0] == 100


def test_bundled_sample_is_real_fashion_mnist():
    root = fashion_sample_path()
    classes = sorted(d.name for d in (root / "train").iterdir())
    assert len(classes) == 10 and "Sneaker" in classes
    files = list((root / "train").rglob("*.png"))
    assert len(files) == 1000 and len(list((root / "valid").rglob("*.png"))) == 300
    im = PILImageBW.create(files[0])
    assert im.size == (28, 28) and np.asarray(im).std() > 10  # a real picture, not a blank


@pytest.mark.parametrize("content", [b"not an image at all", b"\x89PNG\r\n\x1a\n-truncated"])
def test_corrupt_file_error_names_the_path(tmp_path, content):
    p = tmp_path / "broken.png"
    p.write_bytes(content)
    with pytest.raises(ValueError, match="broken.png"):
        PILImage.create(p)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.png"):
        PILImage.create(tmp_path / "nope.png")


def test_create_from_array_tensor_and_bytes():
    arr = np.random.default_rng(0).integers(0, 255, (6, 4, 3), dtype=np.uint8)
    im = PILImage.create(arr)
    assert im.size == (4, 6) and np.array_equal(np.asarray(im), arr)
    chw = torch.from_numpy(arr).permute(2, 0, 1)
    assert np.array_equal(np.asarray(PILImage.create(chw)), arr)
    assert np.array_equal(np.asarray(PILImage.create(TensorImage(chw.float() / 255))), arr)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    assert np.array_equal(np.asarray(PILImage.create(buf.getvalue())), arr)
    with pytest.raises(ValueError, match="bytes"):
        PILImage.create(b"garbage")
    with pytest.raises(TypeError, match="PILImage"):
        PILImage.create(3.5)


def test_mask_keeps_codes_exactly(tmp_path):
    m = np.zeros((4, 4), np.uint8)
    m[1:3, 1:3] = 7
    p = a_png(tmp_path, m, "m_P.png")
    mask = PILMask.create(p)
    assert isinstance(mask, PILMask) and set(np.unique(np.asarray(mask))) == {0, 7}


def test_tensor_types_keep_type_through_ops():
    x = TensorImage(torch.rand(2, 3, 4, 4))
    assert isinstance(x * 2 + 1, TensorImage)
    assert isinstance(TensorImageBW(torch.rand(1, 4, 4))[0], TensorImageBW)
    m = TensorMask(torch.zeros(4, 4, dtype=torch.long), codes=["a", "b"])
    assert (m + 1).codes == ["a", "b"]
    y = retype(torch.zeros(3), m)
    assert isinstance(y, TensorMask) and y.codes == ["a", "b"]


def test_points_and_boxes_create_and_validate():
    p = TensorPoint.create([[1, 2], [3, 4]], img_size=(10, 20))
    assert p.shape == (2, 2) and p.img_size == (10, 20) and p.dtype == torch.float32
    b = TensorBBox.create([1, 2, 3, 4])
    assert b.shape == (1, 4)
    with pytest.raises(ValueError, match="TensorBBox"):
        TensorBBox.create([1, 2, 3])


def test_show_draws_on_an_axis(tmp_path):
    plt = pytest.importorskip("matplotlib.pyplot")
    fig, ax = plt.subplots()
    img = TensorImage(torch.rand(3, 8, 8))
    assert img.show(ctx=ax) is ax and len(ax.images) == 1
    TensorMask(torch.ones(8, 8, dtype=torch.long), codes=["bg", "fg"]).show(ctx=ax)
    assert len(ax.images) == 2
    TensorPoint(torch.tensor([[1.0, 2.0]])).show(ctx=ax)
    TensorBBox(torch.tensor([[1.0, 1.0, 5.0, 6.0]])).show(ctx=ax)
    assert len(ax.collections) == 1 and len(ax.patches) == 1
    PILImageBW.create(np.zeros((8, 8), np.uint8)).show(ctx=ax)
    fig.savefig(tmp_path / "x.png")
    plt.close(fig)
