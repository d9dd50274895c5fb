"""16-bit PNGs are scaled to 8 bits (PIL alone saturates everything above 255 to white); masks keep codes."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from torchloom_vision.core import PILImage, PILImageBW, PILMask, image2tensor


def _png16(path, arr):
    Image.fromarray(arr.astype(np.uint16)).save(path)
    assert Image.open(path).mode.startswith("I")
    return path


def test_16bit_grey_png_is_scaled_not_saturated(tmp_path):
    ramp = np.arange(0, 65536, 257, dtype=np.uint16).reshape(16, 16)  # 0, 257, ..., 65535
    f = _png16(tmp_path / "ramp16.png", ramp)
    bw = np.asarray(PILImageBW.create(f))
    assert bw.dtype == np.uint8 and bw.ravel().tolist() == list(range(256))
    rgb = image2tensor(PILImage.create(f))
    assert rgb.shape == (3, 16, 16) and rgb[0].flatten().tolist() == list(range(256))
    assert PILImageBW.create(f.read_bytes()).getpixel((1, 0)) == 1
    assert np.asarray(PILImageBW.create(ramp)).ravel().tolist() == list(range(256))  # a uint16 array too


def test_16bit_masks_keep_their_codes(tmp_path):
    codes = np.array([[0, 1, 2], [3, 200, 255]], dtype=np.uint16)
    m = PILMask.create(_png16(tmp_path / "mask16.png", codes))
    assert np.asarray(m).tolist() == codes.tolist()
    with pytest.raises(ValueError, match=r"big16\.png: a mask with codes up to 300"):
        PILMask.create(_png16(tmp_path / "big16.png", np.array([[0, 300]], dtype=np.uint16)))
