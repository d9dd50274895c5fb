"""Batch augmentation on the device: every geometric transform composed into ONE warp, plus lighting and erasing.

``AffineCoordTfm`` draws one 3x3 matrix per image (flip or dihedral, rotation, zoom, perspective warp, each with
its own probability), multiplies them, and resamples the whole batch with a single ``F.grid_sample``: images
bilinear, masks nearest, points and boxes moved by the inverse matrix. It runs on the training split only (the
validation split is only resized when ``size`` is given), on whatever device the batch is on.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from torchloom import ItemTransform, RandTransform

from . import geometry as G
from .core import TensorBBox, TensorImage, TensorMask, TensorPoint, retype

__all__ = ["AffineCoordTfm", "Flip", "Dihedral", "Rotate", "Zoom", "Warp", "LightingTfm", "Brightness", "Contrast",
           "RandomErasing", "aug_transforms"]


def _first_image(b: tuple) -> Tensor | None:
    for o in b:
        if isinstance(o, TensorImage):
            return o
    for o in b:
        if isinstance(o, TensorMask):
            return o
    return None


class AffineCoordTfm(ItemTransform):
    """One random warp per image of the batch: flip/dihedral, rotate, zoom and perspective warp composed.

    ``p_flip`` flips horizontally (or applies a random dihedral symmetry when ``flip_vert``), ``max_rotate``
    degrees with ``p_rotate``, zoom in ``[min_zoom, max_zoom]`` with ``p_zoom``, perspective ``max_warp`` with
    ``p_warp``; ``size`` (int or (h, w)) resizes in the same interpolation, on validation too.
    """

    order = 30
    split_idx = None

    def __init__(self, p_flip: float = 0.0, flip_vert: bool = False, max_rotate: float = 0.0, p_rotate: float = 0.75,
                 min_zoom: float = 1.0, max_zoom: float = 1.0, p_zoom: float = 0.75, max_warp: float = 0.0,
                 p_warp: float = 0.75, size: int | Sequence[int] | None = None, mode: str = "bilinear",
                 pad_mode: str = "reflection") -> None:
        super().__init__()
        if min_zoom > max_zoom:
            raise ValueError(f"min_zoom ({min_zoom}) must not exceed max_zoom ({max_zoom})")
        self.p_flip, self.flip_vert = float(p_flip), bool(flip_vert)
        self.max_rotate, self.p_rotate = float(max_rotate), float(p_rotate)
        self.min_zoom, self.max_zoom, self.p_zoom = float(min_zoom), float(max_zoom), float(p_zoom)
        self.max_warp, self.p_warp = float(max_warp), float(p_warp)
        self.size = None if size is None else ([size, size] if isinstance(size, int) else [int(s) for s in size])
        self.mode, self.pad_mode = mode, pad_mode

    def get_config(self) -> dict:
        return {k: getattr(self, k) for k in ("p_flip", "flip_vert", "max_rotate", "p_rotate", "min_zoom", "max_zoom",
                                              "p_zoom", "max_warp", "p_warp", "size", "mode", "pad_mode")}

    def _common(self) -> dict:
        return {"size": self.size, "mode": self.mode, "pad_mode": self.pad_mode}

    # --- the random matrix ------------------------------------------------------------------------------
    def get_matrix(self, n: int, h: int, w: int, device: torch.device) -> Tensor:
        """The (n, 3, 3) output->input matrices for one batch of n images of h x w."""
        def do(p: float) -> Tensor:
            return torch.rand(n, device=device) < p

        m = G.identity_mats(n, device)
        if self.p_flip > 0:
            if self.flip_vert:
                k = torch.randint(0, 8, (n,), device=device) * do(self.p_flip)
                m = m @ G.dihedral_mat(k)
            else:
                m = m @ G.flip_mat(do(self.p_flip))
        if self.max_rotate > 0:
            deg = (torch.rand(n, device=device) * 2 - 1) * self.max_rotate * do(self.p_rotate)
            m = m @ G.rotate_mat(deg, h, w)
        if self.max_zoom > 1 or self.min_zoom < 1:
            z = torch.rand(n, device=device) * (self.max_zoom - self.min_zoom) + self.min_zoom
            z = torch.where(do(self.p_zoom), z, torch.ones_like(z))
            cx, cy = torch.rand(n, device=device) * 2 - 1, torch.rand(n, device=device) * 2 - 1
            m = m @ G.zoom_mat(z, cx, cy)
        if self.max_warp > 0:
            on = do(self.p_warp).float()
            xm = (torch.rand(n, device=device) * 2 - 1) * self.max_warp * on
            ym = (torch.rand(n, device=device) * 2 - 1) * self.max_warp * on
            m = G.warp_mat(xm, ym) @ m
        return m

    # --- applying it --------------------------------------------------------------------------------------
    def __call__(self, b: Any, split_idx: int | None = None, **kwargs: Any) -> Any:
        items = b if isinstance(b, tuple) else (b,)
        ref = _first_image(items)
        if ref is None:
            return b
        train = split_idx == 0
        h, w = ref.shape[-2:]
        size = tuple(self.size) if self.size is not None else (h, w)
        if not train and size == (h, w):
            return b
        n = ref.shape[0]
        m = self.get_matrix(n, h, w, ref.device) if train else G.identity_mats(n, ref.device)
        out = tuple(self.apply(o, m, size) for o in items)
        return out if isinstance(b, tuple) else out[0]

    def apply(self, o: Any, m: Tensor, size: tuple[int, int]) -> Any:
        """Move one batch element ``o`` with the matrices ``m``; untouched when it is not spatial."""
        if isinstance(o, TensorMask):
            return retype(G.warp_masks(o.as_subclass(Tensor), m, size, self.pad_mode), o)
        if isinstance(o, TensorBBox):
            return retype(G.warp_bboxes(o.as_subclass(Tensor), m), o)
        if isinstance(o, TensorPoint):
            return retype(G.warp_points(o.as_subclass(Tensor), m), o)
        if isinstance(o, TensorImage):
            x = o.as_subclass(Tensor)
            if x.is_floating_point():
                return retype(G.warp_images(x, m, size, self.mode, self.pad_mode), o)
            res = G.warp_images(x.float(), m, size, self.mode, self.pad_mode).round_().clamp_(0, 255).to(x.dtype)
            return retype(res, o)
        return o


class Flip(AffineCoordTfm):
    """Random horizontal flip with probability ``p`` (one warp for the batch)."""

    def __init__(self, p: float = 0.5, size: int | Sequence[int] | None = None, mode: str = "bilinear",
                 pad_mode: str = "reflection") -> None:
        super().__init__(p_flip=p, size=size, mode=mode, pad_mode=pad_mode)

    def get_config(self) -> dict:
        return {"p": self.p_flip, **self._common()}


class Dihedral(AffineCoordTfm):
    """Random symmetry of the square (flips, 90-degree rotations) with probability ``p``."""

    def __init__(self, p: float = 0.5, size: int | Sequence[int] | None = None, mode: str = "bilinear",
                 pad_mode: str = "reflection") -> None:
        super().__init__(p_flip=p, flip_vert=True, size=size, mode=mode, pad_mode=pad_mode)

    def get_config(self) -> dict:
        return {"p": self.p_flip, **self._common()}


class Rotate(AffineCoordTfm):
    """Random rotation in ``[-max_deg, max_deg]`` degrees with probability ``p``."""

    def __init__(self, max_deg: float = 10.0, p: float = 0.5, size: int | Sequence[int] | None = None,
                 mode: str = "bilinear", pad_mode: str = "reflection") -> None:
        super().__init__(max_rotate=max_deg, p_rotate=p, size=size, mode=mode, pad_mode=pad_mode)

    def get_config(self) -> dict:
        return {"max_deg": self.max_rotate, "p": self.p_rotate, **self._common()}


class Zoom(AffineCoordTfm):
    """Random zoom in ``[min_zoom, max_zoom]`` at a random centre with probability ``p``."""

    def __init__(self, min_zoom: float = 1.0, max_zoom: float = 1.1, p: float = 0.5,
                 size: int | Sequence[int] | None = None, mode: str = "bilinear", pad_mode: str = "reflection") -> None:
        super().__init__(min_zoom=min_zoom, max_zoom=max_zoom, p_zoom=p, size=size, mode=mode, pad_mode=pad_mode)

    def get_config(self) -> dict:
        return {"min_zoom": self.min_zoom, "max_zoom": self.max_zoom, "p": self.p_zoom, **self._common()}


class Warp(AffineCoordTfm):
    """Random perspective warp of ``magnitude`` with probability ``p``."""

    def __init__(self, magnitude: float = 0.2, p: float = 0.5, size: int | Sequence[int] | None = None,
                 mode: str = "bilinear", pad_mode: str = "reflection") -> None:
        super().__init__(max_warp=magnitude, p_warp=p, size=size, mode=mode, pad_mode=pad_mode)

    def get_config(self) -> dict:
        return {"magnitude": self.max_warp, "p": self.p_warp, **self._common()}


class LightingTfm(RandTransform):
    """Random brightness and contrast in logit space (fastai's lighting), one pass over float image batches."""

    order = 40

    def __init__(self, max_brightness: float = 0.2, max_contrast: float = 0.2, p: float = 0.75) -> None:
        super().__init__(p=1.0)
        if not (0 <= max_brightness < 1 and 0 <= max_contrast < 1):
            raise ValueError("max_brightness and max_contrast must be in [0, 1)")
        self.max_brightness, self.max_contrast, self.p_light = max_brightness, max_contrast, p

    def get_config(self) -> dict:
        return {"max_brightness": self.max_brightness, "max_contrast": self.max_contrast, "p": self.p_light}

    def encodes(self, x: TensorImage) -> None:
        t = x.as_subclass(Tensor)
        if not t.is_floating_point():
            return x
        n, dev = t.shape[0], t.device
        on = torch.rand(n, device=dev) < self.p_light
        mb = self.max_brightness
        br = torch.where(on, torch.rand(n, device=dev) * mb + 0.5 * (1 - mb), torch.full((n,), 0.5, device=dev))
        lc = -math.log(1 - self.max_contrast) if self.max_contrast > 0 else 0.0
        on2 = torch.rand(n, device=dev) < self.p_light
        ct = torch.where(on2, torch.exp((torch.rand(n, device=dev) * 2 - 1) * lc), torch.ones(n, device=dev))
        return retype(G.lighting(t, br, ct), x)


class Brightness(LightingTfm):
    """Random brightness change of up to ``max_lighting`` with probability ``p``."""

    def __init__(self, max_lighting: float = 0.2, p: float = 0.75) -> None:
        super().__init__(max_brightness=max_lighting, max_contrast=0.0, p=p)

    def get_config(self) -> dict:
        return {"max_lighting": self.max_brightness, "p": self.p_light}


class Contrast(LightingTfm):
    """Random contrast change of up to ``max_lighting`` with probability ``p``."""

    def __init__(self, max_lighting: float = 0.2, p: float = 0.75) -> None:
        super().__init__(max_brightness=0.0, max_contrast=max_lighting, p=p)

    def get_config(self) -> dict:
        return {"max_lighting": self.max_contrast, "p": self.p_light}


class RandomErasing(RandTransform):
    """Replace a random rectangle (``sl``-``sh`` of the area, aspect from ``min_aspect``) with noise in a share
    ``p`` of the images, up to ``max_count`` times; runs after ``Normalize`` (order 100), training only."""

    order = 100

    def __init__(self, p: float = 0.5, sl: float = 0.0, sh: float = 0.3, min_aspect: float = 0.3,
                 max_count: int = 1) -> None:
        super().__init__(p=1.0)
        self.p_erase, self.sl, self.sh, self.min_aspect, self.max_count = p, sl, sh, min_aspect, max_count

    def get_config(self) -> dict:
        return {"p": self.p_erase, "sl": self.sl, "sh": self.sh, "min_aspect": self.min_aspect,
                "max_count": self.max_count}

    def encodes(self, x: TensorImage) -> None:
        t = x.as_subclass(Tensor)
        if not t.is_floating_point():
            return x
        n, dev = t.shape[0], t.device
        do = torch.rand(n, device=dev) < self.p_erase
        count = torch.randint(1, self.max_count + 1, (n,), device=dev)
        la = math.log(self.min_aspect)
        for i in range(self.max_count):
            area = torch.rand(n, device=dev) * (self.sh - self.sl) + self.sl
            ratio = torch.rand(n, device=dev) * (-2 * la) + la
            t = G.erase_rects(t, do & (count > i), area, ratio)
        return retype(t, x)


def aug_transforms(mult: float = 1.0, do_flip: bool = True, flip_vert: bool = False, max_rotate: float = 10.0,
                   min_zoom: float = 1.0, max_zoom: float = 1.1, max_lighting: float = 0.2, max_warp: float = 0.2,
                   p_affine: float = 0.75, p_lighting: float = 0.75, xtra_tfms: list | None = None,
                   size: int | Sequence[int] | None = None, mode: str = "bilinear",
                   pad_mode: str = "reflection") -> list:
    """fastai's default augmentation list, with every geometric part in ONE warp and lighting in one pass."""
    max_rotate, max_lighting, max_warp = max_rotate * mult, max_lighting * mult, max_warp * mult
    tfms: list = [AffineCoordTfm(p_flip=0.5 if do_flip else 0.0, flip_vert=flip_vert, max_rotate=max_rotate,
                                 p_rotate=p_affine, min_zoom=min_zoom, max_zoom=max_zoom, p_zoom=p_affine,
                                 max_warp=max_warp, p_warp=p_affine, size=size, mode=mode, pad_mode=pad_mode)]
    if max_lighting > 0:
        tfms.append(LightingTfm(max_lighting, max_lighting, p=p_lighting))
    return tfms + list(xtra_tfms or [])
