"""Per-item transforms (PIL level, one crop/resize per item) and ``Normalize`` for batches.

Every item transform computes one crop box per item in ``before_call`` (random on the training split, centred
on validation) and applies it to the image, its mask (nearest neighbour), its points and its boxes, so they
stay aligned. Boxes are in original pixels and may extend past the image: that part is padded (``pad_mode``).
"""
from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from torchloom import DisplayedTransform, ItemTransform, RandTransform, Transform

from .core import (
    PILBase,
    PILImage,
    PILImageBW,
    PILMask,
    TensorBBox,
    TensorImage,
    TensorImageBW,
    TensorMask,
    TensorPoint,
    image2tensor,
    imagenet_stats,
    retype,
)

__all__ = ["ToTensor", "Resize", "RandomResizedCrop", "CropPad", "PointScaler", "AddMaskCodes", "Normalize", "BBoxPad",
           "ResizeMethod", "PadMode"]


class ResizeMethod:
    Crop, Pad, Squish = "crop", "pad", "squish"


class PadMode:
    Zeros, Border, Reflection = "zeros", "border", "reflection"


_NP_PAD = {"zeros": "constant", "border": "edge", "reflection": "reflect"}


def _size(size: int | Sequence[int]) -> tuple[int, int]:
    """(height, width) from an int or a pair."""
    if isinstance(size, int):
        return size, size
    if len(size) != 2:
        raise ValueError(f"size must be an int or (height, width), got {size!r}")
    return int(size[0]), int(size[1])


def _crop_resize(img: Image.Image, box: tuple[float, float, float, float], out_hw: tuple[int, int],
                 resample: int, pad_mode: str) -> Image.Image:
    """Crop ``box`` (left, top, right, bottom; may leave the image) and resize it to ``out_hw`` in one go."""
    w, h = img.size
    x0, t, r, b = box
    pl, pt = max(0, math.ceil(-x0)), max(0, math.ceil(-t))
    pr, pb = max(0, math.ceil(r - w)), max(0, math.ceil(b - h))
    if pl or pt or pr or pb:
        arr = np.asarray(img)
        pads = [(pt, pb), (pl, pr)] + [(0, 0)] * (arr.ndim - 2)
        mode = _NP_PAD.get(pad_mode)
        if mode is None:
            raise ValueError(f"pad_mode must be one of {sorted(_NP_PAD)}, got {pad_mode!r}")
        if mode == "reflect" and (max(pt, pb) >= h or max(pl, pr) >= w):
            mode = "symmetric" if max(pt, pb) <= h and max(pl, pr) <= w else "edge"
        padded = Image.fromarray(np.pad(arr, pads, mode=mode))
        x0, t, r, b = x0 + pl, t + pt, r + pl, b + pt
        img = padded
    out = img.resize((out_hw[1], out_hw[0]), resample, box=(x0, t, r, b))
    return out


def _move_points(p: Tensor, frac_box: tuple[float, float, float, float]) -> Tensor:
    """Points in [-1, 1] of the original image -> [-1, 1] of the crop ``frac_box`` (fractions of W and H)."""
    x0, t, r, b = frac_box
    xy = (p.as_subclass(Tensor).float() + 1) / 2  # fractions of the original size
    x = (xy[..., 0] - x0) / (r - x0)
    y = (xy[..., 1] - t) / (b - t)
    return torch.stack([x, y], -1) * 2 - 1


def _move_bboxes(bb: Tensor, frac_box: tuple[float, float, float, float]) -> Tensor:
    pts = _move_points(bb.as_subclass(Tensor).reshape(*bb.shape[:-1], 2, 2), frac_box).clamp(-1, 1)
    res = pts.reshape(*bb.shape)
    empty = (res[..., 2] <= res[..., 0]) | (res[..., 3] <= res[..., 1])
    return torch.where(empty.unsqueeze(-1), torch.zeros_like(res), res)


def _first_image_size(b: Any) -> tuple[int, int] | None:
    """(width, height) of the first PIL image in ``b`` (an item or a tuple)."""
    for o in b if isinstance(b, tuple) else (b,):
        if isinstance(o, Image.Image):
            return o.size
    return None


class _CropTransform(RandTransform):
    """Shared machinery: ``_box(w, h, train)`` gives the crop box in pixels; all types follow it."""

    order = 1
    split_idx = None  # random on train, deterministic on valid

    def __init__(self, size: int | Sequence[int], pad_mode: str = PadMode.Reflection,
                 resamples: tuple[int, int] = (Image.BILINEAR, Image.NEAREST)) -> None:
        super().__init__(p=1.0)
        self.size = _size(size)
        self.pad_mode = pad_mode
        self.resamples = tuple(resamples)
        self._boxes: dict[tuple[int, int], tuple] = {}

    def get_config(self) -> dict:
        return {"size": list(self.size), "pad_mode": self.pad_mode, "resamples": list(self.resamples)}

    def _box(self, w: int, h: int, train: bool) -> tuple[float, float, float, float]:
        raise NotImplementedError

    def before_call(self, b: Any, split_idx: int | None) -> None:
        self.do = True
        self._train = split_idx == 0
        self._boxes = {}
        self._frac = None
        sz = _first_image_size(b)
        if sz is not None:
            self._frac = self._frac_box(*sz)

    def _frac_box(self, w: int, h: int) -> tuple[float, float, float, float]:
        box = self._boxes.get((w, h))
        if box is None:
            box = self._boxes[(w, h)] = self._box(w, h, self._train)
        x0, t, r, b = box
        return x0 / w, t / h, r / w, b / h

    def encodes(self, x: PILBase) -> PILBase:
        w, h = x.size
        frac = self._frac if self._frac is not None else self._frac_box(w, h)
        box = (frac[0] * w, frac[1] * h, frac[2] * w, frac[3] * h)
        resample = self.resamples[1] if isinstance(x, PILMask) else self.resamples[0]
        pad = "zeros" if isinstance(x, PILMask) and self.pad_mode == "zeros" else self.pad_mode
        return type(x)._cast(_crop_resize(x, box, self.size, resample, pad))

    def encodes(self, x: TensorBBox) -> TensorBBox:  # noqa: F811 - dispatched by annotation
        return TensorBBox(_move_bboxes(x, self._frac or (0, 0, 1, 1)), img_size=(self.size[1], self.size[0]))

    def encodes(self, x: TensorPoint) -> TensorPoint:  # noqa: F811
        return TensorPoint(_move_points(x, self._frac or (0, 0, 1, 1)), img_size=(self.size[1], self.size[0]))


class Resize(_CropTransform):
    """Resize to ``size`` (int or (h, w)) by ``method``: ``crop`` (random crop on train, centre on valid),
    ``pad`` (fit inside, pad the rest with ``pad_mode``) or ``squish`` (ignore the aspect ratio)."""

    def __init__(self, size: int | Sequence[int], method: str = ResizeMethod.Crop, pad_mode: str = PadMode.Reflection,
                 resamples: tuple[int, int] = (Image.BILINEAR, Image.NEAREST)) -> None:
        if method not in ("crop", "pad", "squish"):
            raise ValueError(f"Resize method must be 'crop', 'pad' or 'squish', got {method!r}")
        super().__init__(size, pad_mode, resamples)
        self.method = method

    def get_config(self) -> dict:
        return {**super().get_config(), "method": self.method}

    def _box(self, w: int, h: int, train: bool) -> tuple[float, float, float, float]:
        oh, ow = self.size
        if self.method == "squish":
            return 0.0, 0.0, float(w), float(h)
        aspect = ow / oh
        if (w / h > aspect) == (self.method == "crop"):  # crop: keep full height; pad: keep full width
            bh, bw = float(h), h * aspect
        else:
            bw, bh = float(w), w / aspect
        px, py = (random.random(), random.random()) if train and self.method == "crop" else (0.5, 0.5)
        x0, t = (w - bw) * px, (h - bh) * py
        return x0, t, x0 + bw, t + bh


class CropPad(_CropTransform):
    """Centre-crop or pad to ``size`` without rescaling (padding with ``pad_mode``, zeros by default)."""

    def __init__(self, size: int | Sequence[int], pad_mode: str = PadMode.Zeros,
                 resamples: tuple[int, int] = (Image.BILINEAR, Image.NEAREST)) -> None:
        super().__init__(size, pad_mode, resamples)

    def _box(self, w: int, h: int, train: bool) -> tuple[float, float, float, float]:
        oh, ow = self.size
        x0, t = (w - ow) // 2, (h - oh) // 2
        return float(x0), float(t), float(x0 + ow), float(t + oh)


class RandomResizedCrop(_CropTransform):
    """Train: a random crop of ``min_scale``-1 of the area and ``ratio`` aspect, resized to ``size``.
    Valid: the centre ``size / (size + val_xtra * size)`` of the image, resized to ``size`` (fastai's rule)."""

    def __init__(self, size: int | Sequence[int], min_scale: float = 0.08, ratio: tuple[float, float] = (3 / 4, 4 / 3),
                 resamples: tuple[int, int] = (Image.BILINEAR, Image.NEAREST), val_xtra: float = 0.14,
                 pad_mode: str = PadMode.Reflection) -> None:
        super().__init__(size, pad_mode, resamples)
        if not 0 < min_scale <= 1:
            raise ValueError(f"min_scale must be in (0, 1], got {min_scale}")
        self.min_scale, self.ratio, self.val_xtra = min_scale, tuple(ratio), val_xtra

    def get_config(self) -> dict:
        return {**super().get_config(), "min_scale": self.min_scale, "ratio": list(self.ratio),
                "val_xtra": self.val_xtra}

    def _box(self, w: int, h: int, train: bool) -> tuple[float, float, float, float]:
        oh, ow = self.size
        if train:
            for _ in range(10):
                area = random.uniform(self.min_scale, 1) * w * h
                r = math.exp(random.uniform(math.log(self.ratio[0]), math.log(self.ratio[1])))
                nw, nh = math.sqrt(area * r), math.sqrt(area / r)
                if nw <= w and nh <= h:
                    x0, t = random.uniform(0, w - nw), random.uniform(0, h - nh)
                    return x0, t, x0 + nw, t + nh
            r = min(max(w / h, self.ratio[0]), self.ratio[1])  # fallback: the largest centred crop
            nw, nh = (h * r, float(h)) if w / h > r else (float(w), w / r)
            return (w - nw) / 2, (h - nh) / 2, (w + nw) / 2, (h + nh) / 2
        xtra = math.ceil(max(oh, ow) * self.val_xtra / 8) * 8
        fw, fh = ow / (ow + xtra), oh / (oh + xtra)
        return w * (1 - fw) / 2, h * (1 - fh) / 2, w * (1 + fw) / 2, h * (1 + fh) / 2


class ToTensor(Transform):
    """PIL image -> uint8 CHW ``TensorImage`` (``TensorImageBW`` for grey), PIL mask -> uint8 HW ``TensorMask``."""

    order = 5

    def encodes(self, o: PILImage) -> TensorImage:
        return TensorImage(image2tensor(o))

    def encodes(self, o: PILImageBW) -> TensorImageBW:  # noqa: F811
        return TensorImageBW(image2tensor(o))

    def encodes(self, o: PILMask) -> TensorMask:  # noqa: F811
        return TensorMask(image2tensor(o)[0])


class PointScaler(ItemTransform):
    """Scale ``TensorPoint``/``TensorBBox`` pixel coordinates to [-1, 1] by the size of the item's image
    (or their ``img_size``); decoding scales back to the (possibly resized) image's pixels."""

    order = 0

    def __init__(self, do_scale: bool = True, y_first: bool = False) -> None:
        super().__init__()
        self.do_scale, self.y_first = do_scale, y_first

    @staticmethod
    def _img_wh(b: tuple) -> tuple[int, int] | None:
        for o in b:
            if isinstance(o, Image.Image):
                return o.size
            if isinstance(o, TensorImage) or isinstance(o, TensorMask):
                return o.shape[-1], o.shape[-2]
        return None

    def _map(self, b: Any, f: Any) -> Any:
        items = b if isinstance(b, tuple) else (b,)
        wh = self._img_wh(items)
        out = []
        for o in items:
            if isinstance(o, TensorPoint):
                sz = wh or getattr(o, "img_size", None)
                if sz is None:
                    raise ValueError("PointScaler: points need an image in the same item or an img_size")
                o = f(o, sz)
            out.append(o)
        return tuple(out) if isinstance(b, tuple) else out[0]

    def _scale(self, o: TensorPoint, sz: tuple[int, int]) -> TensorPoint:
        t = o.as_subclass(Tensor).float()
        k = t.shape[-1]
        if self.y_first:
            t = t.reshape(*t.shape[:-1], k // 2, 2).flip(-1).reshape(t.shape)
        if self.do_scale:
            t = t * 2 / torch.tensor(sz, dtype=torch.float32).repeat(k // 2) - 1
        return type(o)(t, img_size=tuple(sz))

    def _unscale(self, o: TensorPoint, sz: tuple[int, int]) -> TensorPoint:
        t = o.as_subclass(Tensor).float()
        k = t.shape[-1]
        t = (t + 1) * torch.tensor(sz, dtype=torch.float32, device=t.device).repeat(k // 2) / 2
        return type(o)(t, img_size=tuple(sz))

    def encodes(self, b: object) -> None:
        return self._map(b, self._scale)

    def decodes(self, b: object) -> None:
        return self._map(b, self._unscale) if self.do_scale else b


class AddMaskCodes(Transform):
    """Attach ``codes`` (class names) to decoded masks, so ``show`` can colour and name them."""

    def __init__(self, codes: Sequence[str] | None = None) -> None:
        super().__init__()
        self.codes = list(codes) if codes is not None else None

    def decodes(self, o: TensorMask) -> TensorMask:
        if self.codes is not None:
            o.codes = self.codes
        return o


class Normalize(DisplayedTransform):
    """``(x - mean) / std`` on image batches (decoded back for showing); stats from ``from_stats`` or, when
    not given, computed from one training batch at setup. Runs on whatever device the batch is on."""

    order = 99

    def __init__(self, mean: Any = None, std: Any = None, axes: tuple[int, ...] = (0, 2, 3)) -> None:
        super().__init__()
        self.axes = tuple(axes)
        self.mean = None if mean is None else self._stat(mean)
        self.std = None if std is None else self._stat(std)

    @staticmethod
    def _stat(v: Any) -> Tensor:
        t = torch.as_tensor(v, dtype=torch.float32).as_subclass(Tensor)
        return t.view(1, -1, 1, 1) if t.ndim <= 1 else t

    @classmethod
    def from_stats(cls, mean: Any, std: Any, dim: int = 1, ndim: int = 4, cuda: bool = True) -> Normalize:
        """fastai's constructor: ``Normalize.from_stats(*imagenet_stats)`` (``cuda`` kept for compatibility)."""
        return cls(mean, std)

    @classmethod
    def imagenet(cls) -> Normalize:
        return cls(*imagenet_stats)

    def setups(self, dl: object) -> None:
        if self.mean is not None and self.std is not None:
            return
        if not hasattr(dl, "one_batch"):
            return
        x = dl.one_batch()[0]
        x = x.as_subclass(Tensor).float()
        self.mean = x.mean(self.axes, keepdim=True).cpu()
        self.std = x.std(self.axes, keepdim=True).cpu() + 1e-7

    def _stats_for(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.mean.device != x.device:
            self.mean, self.std = self.mean.to(x.device), self.std.to(x.device)
        m, s = self.mean, self.std
        if m.shape[1] != x.shape[1] and m.shape[1] == 3 and x.shape[1] == 1:  # grey images, RGB stats
            m, s = m.mean(1, keepdim=True), s.mean(1, keepdim=True)
        return m, s

    def encodes(self, x: TensorImage) -> None:
        if self.mean is None or not x.is_floating_point():
            return x
        m, s = self._stats_for(x)
        return retype((x.as_subclass(Tensor) - m) / s, x)

    def decodes(self, x: TensorImage) -> None:
        if self.mean is None or not x.is_floating_point():
            return x
        m, s = self._stats_for(x)
        return retype(x.as_subclass(Tensor) * s + m, x)

    def get_config(self) -> dict:
        return {"axes": list(self.axes)}

    def state_dict(self) -> dict:
        return {} if self.mean is None else {"mean": self.mean.cpu(), "std": self.std.cpu()}

    def load_state_dict(self, d: dict) -> None:
        if "mean" in d:
            self.mean, self.std = self._stat(d["mean"]), self._stat(d["std"])


class BBoxPad(Transform):
    """``before_batch``: drop boxes left empty by cropping (with their labels), then pad every item's boxes with
    zero boxes and its labels with ``pad_idx`` up to the batch's largest count (fastai's ``bb_pad``)."""

    def __init__(self, pad_idx: int = 0) -> None:
        super().__init__()
        self.pad_idx = pad_idx

    def encodes(self, samples: list) -> list:
        parts = []
        for s in samples:
            bi = next((i for i, o in enumerate(s) if isinstance(o, TensorBBox)), None)
            if bi is None:
                return samples
            bb = s[bi].as_subclass(Tensor).reshape(-1, 4)
            keep = (bb[:, 2] > bb[:, 0]) & (bb[:, 3] > bb[:, 1])
            lbl = s[bi + 1] if bi + 1 < len(s) and isinstance(s[bi + 1], Tensor) else None
            parts.append((bi, keep, lbl))
        n = max(max(int(k.sum()) for _, k, _ in parts), 1)
        out = []
        for s, (bi, keep, lbl) in zip(samples, parts):
            s = list(s)
            bb = s[bi]
            kept = bb.as_subclass(Tensor).reshape(-1, 4)[keep]
            s[bi] = retype(torch.cat([kept, kept.new_zeros(n - len(kept), 4)]), bb)
            if lbl is not None and lbl.ndim == 1 and len(lbl) == len(keep):
                kl = lbl.as_subclass(Tensor)[keep]
                s[bi + 1] = retype(torch.cat([kl, kl.new_full((n - len(kl),), self.pad_idx)]), lbl)
            out.append(tuple(s))
        return out
