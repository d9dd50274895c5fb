"""Image types: PIL-level items (``PILImage``, ``PILImageBW``, ``PILMask``) and their tensor twins.

PIL types are what the per-item pipeline works on (decode, resize, crop); tensor types are what batches carry
(``TensorImage`` uint8 -> float on the device, ``TensorMask`` long, ``TensorPoint``/``TensorBBox`` in [-1, 1]
coordinates). Every type has ``show(ctx=..)`` so ``show_batch`` can draw it.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from torchloom import TensorBase, show_image, to_plain

__all__ = [
    "imagenet_stats", "PILBase", "PILImage", "PILImageBW", "PILMask", "TensorImageBase", "TensorImage",
    "TensorImageBW", "TensorMask", "TensorPoint", "TensorBBox", "load_image", "image2tensor", "retype",
]

imagenet_stats = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])


_WIDE_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def to_8bit(im: Image.Image, scale: bool = True, source: Any = "image") -> Image.Image:
    """A 16-bit (or 32-bit integer) grey image as 8-bit ``L``: scaled by 255/65535 when ``scale`` (PIL's own
    conversion saturates everything above 255 to white), or kept as codes (masks), which must fit in 0-255."""
    if im.mode not in _WIDE_MODES:
        return im
    arr = np.asarray(im).astype(np.int64)
    if scale:
        if im.mode != "I" or arr.max(initial=0) > 255:  # "I" holding 0-255 values is already 8-bit content
            arr = (arr * 255 + 32767) // 65535
    elif arr.max(initial=0) > 255 or arr.min(initial=0) < 0:
        raise ValueError(f"{source}: a mask with codes up to {arr.max()} (mode {im.mode}) does not fit in 8 bits; "
                         "masks hold class codes 0-255")
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")


def load_image(fn: str | Path, mode: str | None = None, scale: bool = True) -> Image.Image:
    """Open and fully decode the image file ``fn`` (converted to ``mode``); errors name the file.

    16-bit grey images are scaled to 8 bits (``scale=False`` keeps the values, for masks)."""
    try:
        with Image.open(fn) as im:
            im.load()
            if mode is not None:
                im = to_8bit(im, scale, fn)
            im = im._new(im.im) if mode is None else im.convert(mode)
    except FileNotFoundError:
        raise FileNotFoundError(f"image file not found: {fn}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ValueError(f"cannot read image file {fn}: not a valid image ({e})") from e
    return im


def image2tensor(img: Image.Image | np.ndarray) -> Tensor:
    """A PIL image / HWC array as a uint8 CHW tensor (HW for masks stays HW)."""
    t = torch.from_numpy(np.array(img, dtype=np.uint8, copy=True))
    return t.permute(2, 0, 1) if t.ndim == 3 else t.unsqueeze(0)


def retype(t: Tensor, like: Tensor) -> Tensor:
    """Give the plain result ``t`` of a computation the type and metadata of ``like``."""
    res = t.as_subclass(type(like))
    if like.__dict__:
        res.__dict__.update(like.__dict__)
    return res


class PILBase(Image.Image):
    """A PIL image that knows its semantic type; create it with ``cls.create(path | array | bytes | Tensor)``."""

    _open_mode: str | None = "RGB"
    _scale_16bit = True  # 16-bit grey files are scaled to 0-255 (masks keep their codes instead)
    _show_args: dict = {}

    @classmethod
    def _cast(cls, im: Image.Image) -> PILBase:
        if not isinstance(im, cls):
            im.__class__ = cls
        return im

    @classmethod
    def create(cls, fn: Any, **kwargs: Any) -> PILBase:
        """Build from a path, ``bytes``, a numpy array / tensor (HW, HWC or CHW) or a PIL image."""
        if isinstance(fn, (str, Path)):
            return cls._cast(load_image(fn, cls._open_mode, cls._scale_16bit))
        if isinstance(fn, (bytes, bytearray)):
            try:
                im = Image.open(io.BytesIO(fn))
                im.load()
            except (UnidentifiedImageError, OSError) as e:
                raise ValueError(f"cannot decode {len(fn)} bytes as an image: {e}") from e
            if cls._open_mode is not None:
                im = to_8bit(im, cls._scale_16bit, f"{len(fn)} bytes of image")
        elif isinstance(fn, Image.Image):
            im = fn
        elif isinstance(fn, (np.ndarray, Tensor)):
            arr = to_plain(fn).detach().cpu().numpy() if isinstance(fn, Tensor) else fn
            chw = isinstance(fn, Tensor) or arr.shape[-1] not in (1, 3, 4)  # tensors are CHW, arrays HWC
            if arr.ndim == 3 and chw and arr.shape[0] in (1, 3, 4):
                arr = arr.transpose(1, 2, 0)
            if arr.ndim == 3 and arr.shape[-1] == 1:
                arr = arr[..., 0]
            if arr.dtype != np.uint8:
                if np.issubdtype(arr.dtype, np.floating) and arr.max(initial=0) <= 1.0:
                    arr = arr * 255
                elif arr.dtype == np.uint16 and cls._scale_16bit:
                    arr = (arr.astype(np.int64) * 255 + 32767) // 65535
                arr = np.clip(arr, 0, 255).astype(np.uint8)
            im = Image.fromarray(np.ascontiguousarray(arr))
        else:
            raise TypeError(f"{cls.__name__}.create: cannot make an image from {type(fn).__name__}")
        if cls._open_mode is not None and im.mode != cls._open_mode:
            im = im.convert(cls._open_mode)
        return cls._cast(im.copy() if im is fn else im)

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width), like a tensor's spatial shape."""
        return self.size[1], self.size[0]

    def show(self, ctx: Any = None, **kwargs: Any) -> Any:
        return show_image(np.asarray(self), ctx=ctx, **{**self._show_args, **kwargs})

    def __repr__(self) -> str:
        return f"{type(self).__name__} mode={self.mode} size={self.size[0]}x{self.size[1]}"


class PILImage(PILBase):
    """A colour (RGB) image."""


class PILImageBW(PILImage):
    """A grey-scale (L) image."""

    _open_mode = "L"
    _show_args = {"cmap": "Greys"}


class PILMask(PILBase):
    """A segmentation mask: one class code per pixel (mode L)."""

    _open_mode = "L"
    _scale_16bit = False
    _show_args = {"alpha": 0.5, "cmap": "tab20"}


class TensorImageBase(TensorBase):
    """Base of image-like tensors (shown as pictures)."""

    _show_args: dict = {"cmap": "viridis"}

    def show(self, ctx: Any = None, **kwargs: Any) -> Any:
        return show_image(_for_show(self), ctx=ctx, **{**self._show_args, **kwargs})


def _for_show(t: Tensor) -> Tensor:
    t = to_plain(t).detach().cpu()
    if t.is_floating_point():
        t = t.clamp(0, 1)
    return t


class TensorImage(TensorImageBase):
    """An image (or a batch of images): uint8 0-255 or float 0-1, channels first."""

    _show_args = {}


class TensorImageBW(TensorImage):
    """A grey-scale image tensor (1 channel)."""

    _show_args = {"cmap": "Greys"}


class TensorMask(TensorImageBase):
    """A segmentation mask tensor (integer codes); ``codes`` metadata names them."""

    _show_args = {"alpha": 0.5, "cmap": "tab20"}
    int_codes = True  # the kernel's IntToFloatTensor makes masks long, not float

    def show(self, ctx: Any = None, **kwargs: Any) -> Any:
        codes = getattr(self, "codes", None)
        kw = {"vmin": 0, "vmax": len(codes) - 1} if codes is not None and len(codes) > 1 else {}
        t = to_plain(self).detach().cpu()
        if t.ndim == 3 and t.shape[0] == 1:
            t = t[0]
        return show_image(t, ctx=ctx, **{**self._show_args, **kw, **kwargs})


class TensorPoint(TensorBase):
    """Key points, shape (n, 2) as (x, y); pixels when created, [-1, 1] after ``PointScaler``."""

    _show_args = {"s": 10, "marker": ".", "c": "red"}

    @classmethod
    def create(cls, t: Any, img_size: tuple[int, int] | None = None) -> TensorPoint:
        """From an (n, 2) array-like of (x, y) pixel coordinates; ``img_size`` is (width, height)."""
        try:
            t = torch.as_tensor(np.asarray(t, dtype=np.float32)).view(-1, 2)
        except (ValueError, RuntimeError, TypeError) as e:
            raise ValueError(f"{cls.__name__}.create: expected (x, y) pairs, got {t!r}") from e
        return cls(t, img_size=img_size)

    def show(self, ctx: Any = None, **kwargs: Any) -> Any:
        if ctx is None:
            import matplotlib.pyplot as plt

            ctx = plt.gca()
        p = to_plain(self).detach().cpu().view(-1, 2)
        ctx.scatter(p[:, 0], p[:, 1], **{**self._show_args, **kwargs})
        return ctx


class TensorBBox(TensorPoint):
    """Bounding boxes, shape (n, 4) as (x1, y1, x2, y2)."""

    @classmethod
    def create(cls, t: Any, img_size: tuple[int, int] | None = None) -> TensorBBox:
        """From an (n, 4) array-like of (x1, y1, x2, y2) pixel boxes; ``img_size`` is (width, height)."""
        try:
            t = torch.as_tensor(np.asarray(t, dtype=np.float32)).view(-1, 4)
        except (ValueError, RuntimeError, TypeError) as e:
            raise ValueError(f"{cls.__name__}.create: expected (x1, y1, x2, y2) boxes, got {t!r}") from e
        return cls(t, img_size=img_size)

    def show(self, ctx: Any = None, color: str = "white", **kwargs: Any) -> Any:
        from matplotlib import patches

        if ctx is None:
            import matplotlib.pyplot as plt

            ctx = plt.gca()
        for x1, y1, x2, y2 in to_plain(self).detach().cpu().view(-1, 4).tolist():
            if x2 > x1 and y2 > y1:
                ctx.add_patch(patches.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=color, lw=2))
        return ctx
