"""Batch geometry in plain torch: random 3x3 matrices and one resampling for images, masks, points and boxes.

Conventions (used everywhere in this plugin): coordinates are normalised to [-1, 1] with ``align_corners=False``,
so pixel ``i`` of ``W`` has its centre at ``(2i + 1) / W - 1`` and a point at pixel coordinate ``x`` (continuous,
centre of pixel i at i + 0.5) maps to ``2x / W - 1``. A matrix ``M`` (N, 3, 3) maps an *output* location to the
*input* location it samples (what ``affine_grid`` wants); points and boxes therefore move with ``M^-1``.
Composing every transform into one ``M`` means one interpolation, whatever the number of augmentations.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "identity_mats", "flip_mat", "dihedral_mat", "rotate_mat", "zoom_mat", "warp_mat", "warp_grid",
    "warp_images", "warp_masks", "warp_points", "warp_bboxes", "lighting", "erase_rects",
]


def identity_mats(n: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> Tensor:
    return torch.eye(3, device=device, dtype=dtype).expand(n, 3, 3).clone()


def flip_mat(do: Tensor) -> Tensor:
    """Horizontal flip where ``do`` (bool, N) is true."""
    m = identity_mats(len(do), do.device)
    m[:, 0, 0] = torch.where(do, -1.0, 1.0)
    return m


def dihedral_mat(k: Tensor) -> Tensor:
    """One of the 8 symmetries of the square per sample: bit 0 flips x, bit 1 flips y, bit 2 transposes.

    k = 5 (transpose, then flip x) is a 90-degree rotation; k = 3 a 180-degree one.
    """
    m = identity_mats(len(k), k.device)
    fx = torch.where(k & 1 > 0, -1.0, 1.0)
    fy = torch.where(k & 2 > 0, -1.0, 1.0)
    tr = (k & 4) > 0
    m[:, 0, 0] = torch.where(tr, 0.0, fx)
    m[:, 0, 1] = torch.where(tr, fx, 0.0)
    m[:, 1, 0] = torch.where(tr, fy, 0.0)
    m[:, 1, 1] = torch.where(tr, 0.0, fy)
    return m


def rotate_mat(deg: Tensor, h: int = 1, w: int = 1) -> Tensor:
    """Rotation by ``deg`` degrees (N,) about the centre, a true rotation in pixel space for a h x w image."""
    t = deg * (math.pi / 180)
    c, s = torch.cos(t), torch.sin(t)
    m = identity_mats(len(deg), deg.device)
    m[:, 0, 0], m[:, 0, 1] = c, -s * (h / w)
    m[:, 1, 0], m[:, 1, 1] = s * (w / h), c
    return m


def zoom_mat(scale: Tensor, cx: Tensor, cy: Tensor) -> Tensor:
    """Zoom in by ``scale`` (>= 1 keeps the view inside the image) centred at (cx, cy) in [-1, 1] * (1 - 1/scale)."""
    m = identity_mats(len(scale), scale.device)
    s = 1 / scale
    m[:, 0, 0], m[:, 1, 1] = s, s
    m[:, 0, 2], m[:, 1, 2] = cx * (1 - s), cy * (1 - s)
    return m


def warp_mat(x_mag: Tensor, y_mag: Tensor) -> Tensor:
    """Perspective warp (fastai's ``Warp``): the homography moving the corners by the given magnitudes."""
    n, dev = len(x_mag), x_mag.device
    src = torch.tensor([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]], device=dev).expand(n, 4, 2)
    dx = torch.stack([-y_mag, y_mag, y_mag, -y_mag], 1)
    dy = torch.stack([-x_mag, x_mag, -x_mag, x_mag], 1)
    dst = src + torch.stack([dx, dy], -1)
    return _homography(src, dst)


def _homography(src: Tensor, dst: Tensor) -> Tensor:
    """Batched 3x3 homographies H with H @ src_i ~ dst_i for 4 point pairs (N, 4, 2)."""
    n = src.shape[0]
    x, y, u, v = src[..., 0], src[..., 1], dst[..., 0], dst[..., 1]
    z, o = torch.zeros_like(x), torch.ones_like(x)
    rows_u = torch.stack([x, y, o, z, z, z, -u * x, -u * y], -1)
    rows_v = torch.stack([z, z, z, x, y, o, -v * x, -v * y], -1)
    a = torch.cat([rows_u, rows_v], 1)
    b = torch.cat([u, v], 1).unsqueeze(-1)
    h = torch.linalg.solve(a, b).squeeze(-1)
    return torch.cat([h, torch.ones(n, 1, device=src.device)], 1).view(n, 3, 3)


def _is_affine(m: Tensor) -> bool:
    return bool((m[:, 2, :2] == 0).all())


def warp_grid(m: Tensor, size: tuple[int, int]) -> Tensor:
    """The sampling grid (N, H, W, 2) for matrices ``m`` at output ``size`` (h, w)."""
    n = m.shape[0]
    if _is_affine(m):
        return F.affine_grid(m[:, :2], [n, 1, *size], align_corners=False)
    base = F.affine_grid(identity_mats(1, m.device, m.dtype)[:, :2], [1, 1, *size], align_corners=False)
    homog = torch.cat([base, torch.ones_like(base[..., :1])], -1)  # (1, H, W, 3)
    g = torch.einsum("nij,nhwj->nhwi", m, homog.expand(n, -1, -1, -1))
    return g[..., :2] / g[..., 2:].clamp_min(1e-6)


def warp_images(x: Tensor, m: Tensor, size: tuple[int, int] | None = None, mode: str = "bilinear",
                pad_mode: str = "reflection") -> Tensor:
    """Resample float images (N, C, H, W) once through ``m``; ``size`` changes the output size."""
    size = tuple(size) if size is not None else tuple(x.shape[-2:])
    grid = warp_grid(m.to(x.dtype), size)
    return F.grid_sample(x, grid, mode=mode, padding_mode=pad_mode, align_corners=False)


def warp_masks(y: Tensor, m: Tensor, size: tuple[int, int] | None = None, pad_mode: str = "reflection") -> Tensor:
    """Resample integer masks (N, H, W) or (N, 1, H, W) with nearest neighbour (codes never blend)."""
    squeeze = y.ndim == 3
    f = (y.unsqueeze(1) if squeeze else y).float()
    out = warp_images(f, m, size, mode="nearest", pad_mode=pad_mode).round().to(y.dtype)
    return out[:, 0] if squeeze else out


def warp_points(p: Tensor, m: Tensor) -> Tensor:
    """Move points (N, n, 2) in [-1, 1] the way ``m`` moves their image (applies ``m^-1``)."""
    inv = torch.linalg.inv(m.float())
    homog = torch.cat([p.float(), torch.ones_like(p[..., :1], dtype=torch.float32)], -1)
    q = homog @ inv.transpose(1, 2)
    return (q[..., :2] / q[..., 2:]).to(p.dtype)


def warp_bboxes(b: Tensor, m: Tensor) -> Tensor:
    """Boxes (N, n, 4) re-boxed around their 4 moved corners and clipped to the image; empty boxes stay 0."""
    x1, y1, x2, y2 = b.unbind(-1)
    corners = torch.stack([torch.stack(c, -1) for c in ((x1, y1), (x2, y1), (x1, y2), (x2, y2))], -2)
    n, k = b.shape[:2]
    moved = warp_points(corners.view(n, k * 4, 2), m).view(n, k, 4, 2)
    lo, hi = moved.min(-2).values.clamp(-1, 1), moved.max(-2).values.clamp(-1, 1)
    res = torch.cat([lo, hi], -1)
    keep = ((x2 > x1) & (y2 > y1)).unsqueeze(-1) & (res[..., 2:] > res[..., :2]).all(-1, keepdim=True)
    return torch.where(keep, res, torch.zeros_like(res))


def lighting(x: Tensor, brightness: Tensor, contrast: Tensor, eps: float = 1e-5) -> Tensor:
    """fastai's lighting in logit space: ``sigmoid((logit(x) + logit(brightness)) * contrast)`` per image.

    ``brightness`` 0.5 and ``contrast`` 1 leave ``x`` (floats in [0, 1]) unchanged.
    """
    shape = (-1,) + (1,) * (x.ndim - 1)
    b = torch.logit(brightness.to(x.dtype), eps).view(shape)
    c = contrast.to(x.dtype).view(shape)
    return torch.sigmoid((torch.logit(x, eps) + b) * c)


def erase_rects(x: Tensor, do: Tensor, area: Tensor, log_ratio: Tensor, fill: Tensor | None = None) -> Tensor:
    """Replace one random rectangle per selected image (``do``) with noise; ``area`` is a fraction of H*W."""
    n, _, h, w = x.shape
    ratio = torch.exp(log_ratio)
    eh = (torch.sqrt(area * h * w / ratio)).round().clamp(1, h).long()
    ew = (torch.sqrt(area * h * w * ratio)).round().clamp(1, w).long()
    y0 = (torch.rand(n, device=x.device) * (h - eh + 1)).long()
    x0 = (torch.rand(n, device=x.device) * (w - ew + 1)).long()
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    box = ((rows >= y0.view(-1, 1, 1)) & (rows < (y0 + eh).view(-1, 1, 1))
           & (cols >= x0.view(-1, 1, 1)) & (cols < (x0 + ew).view(-1, 1, 1)) & do.view(-1, 1, 1))
    if fill is None:
        fill = torch.randn_like(x)
    return torch.where(box.unsqueeze(1), fill, x)
