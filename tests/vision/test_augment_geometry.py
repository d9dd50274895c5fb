"""Batch augmentation geometry: one warp moves an image's marked pixel, its mask pixel, its point and its box
to the same place (flip, dihedral, rotation, zoom, perspective warp), on whatever device the batch is on."""
from __future__ import annotations

import math

import pytest
import torch
from torchloom_vision import geometry as G
from torchloom_vision.augment import (
    AffineCoordTfm,
    Dihedral,
    Flip,
    LightingTfm,
    RandomErasing,
    Rotate,
    Warp,
    Zoom,
    aug_transforms,
)
from torchloom_vision.core import TensorBBox, TensorImage, TensorMask, TensorPoint

H = W = 16


def pix2norm(x: float, size: int = W) -> float:
    """Pixel index (centre) -> normalised coordinate (align_corners=False)."""
    return (2 * x + 1) / size - 1


def norm2pix(v: torch.Tensor, size: int = W) -> torch.Tensor:
    return (v + 1) * size / 2 - 0.5


def marked_batch(n: int = 1, row: int = 3, col: int = 5, device: str = "cpu"):
    """Image with one bright pixel, its mask, a point on it and a 1-pixel box around it."""
    img = torch.zeros(n, 1, H, W, device=device)
    img[:, :, row, col] = 1.0
    mask = torch.zeros(n, H, W, dtype=torch.long, device=device)
    mask[:, row, col] = 2
    pts = torch.tensor([[[pix2norm(col), pix2norm(row, H)]]], device=device).repeat(n, 1, 1)
    box = torch.tensor([[[pix2norm(col) - 1 / W, pix2norm(row) - 1 / H, pix2norm(col) + 1 / W,
                          pix2norm(row) + 1 / H]]], device=device).repeat(n, 1, 1)
    return TensorImage(img), TensorMask(mask), TensorPoint(pts), TensorBBox(box)


def where(img: torch.Tensor) -> list[tuple[int, int]]:
    t = img.as_subclass(torch.Tensor)
    t = t[0, 0] if t.ndim == 4 else t[0]
    return [tuple(p) for p in (t > 0.5).nonzero().tolist()]


def check_consistent(out, expect_rc):
    img, mask, pts, box = out
    assert where(img) == [expect_rc]
    assert where(mask.float()) == [expect_rc]
    assert mask.max() == 2 and mask.dtype == torch.long  # nearest: codes never blend
    px, py = norm2pix(pts[0, 0, 0]).item(), norm2pix(pts[0, 0, 1], H).item()
    assert (round(py), round(px)) == expect_rc and abs(px - round(px)) < 1e-4
    b = box[0, 0]
    cx, cy = norm2pix((b[0] + b[2]) / 2).item(), norm2pix((b[1] + b[3]) / 2, H).item()
    assert (round(cy), round(cx)) == expect_rc


def test_flip_moves_pixel_mask_point_and_box_to_mirror():
    out = Flip(p=1.0)(marked_batch(), split_idx=0)
    check_consistent(out, (3, W - 1 - 5))
    assert [type(o) for o in out] == [TensorImage, TensorMask, TensorPoint, TensorBBox]


def test_dihedral_90_degrees_and_180():
    b = marked_batch()
    tfm = AffineCoordTfm()
    for k, expect in [(5, (W - 1 - 5, 3)), (3, (H - 1 - 3, W - 1 - 5)), (4, (5, 3)), (2, (H - 1 - 3, 5))]:
        m = G.dihedral_mat(torch.tensor([k]))
        out = tuple(tfm.apply(o, m, (H, W)) for o in b)
        check_consistent(out, expect)


def test_dihedral_transform_draws_only_symmetries():
    torch.manual_seed(0)
    seen = set()
    for _ in range(40):
        img = Dihedral(p=1.0)(marked_batch(), split_idx=0)[0]
        seen.add(where(img)[0])
    # the 8 images of (3, 5) under the dihedral group of the square
    assert seen <= {(3, 5), (3, 10), (12, 5), (12, 10), (5, 3), (5, 12), (10, 3), (10, 12)}
    assert len(seen) >= 6


def test_rotation_by_90_degrees_matches_points():
    m = G.rotate_mat(torch.tensor([90.0]), H, W)
    out = tuple(AffineCoordTfm().apply(o, m, (H, W)) for o in marked_batch())
    img, mask, pts, _ = out
    r, c = where(img)[0]
    assert where(mask.float()) == [(r, c)]
    assert (round(norm2pix(pts[0, 0, 1], H).item()), round(norm2pix(pts[0, 0, 0]).item())) == (r, c)
    # a quarter turn about the centre keeps the distance to the centre
    d0 = math.hypot(3 - 7.5, 5 - 7.5)
    assert math.isclose(math.hypot(r - 7.5, c - 7.5), d0, rel_tol=1e-6)


def test_zoom_scales_distance_from_centre():
    m = G.zoom_mat(torch.tensor([2.0]), torch.tensor([0.0]), torch.tensor([0.0]))
    img, mask, pts, box = (AffineCoordTfm().apply(o, m, (H, W)) for o in marked_batch(row=6, col=6))
    p = pts[0, 0]
    # zoom x2 about the centre: normalised coordinates double
    assert torch.allclose(p, torch.tensor([pix2norm(6) * 2, pix2norm(6) * 2]), atol=1e-5)
    assert (box[0, 0, 2] - box[0, 0, 0]).item() == pytest.approx(4 / W, abs=1e-5)  # the box doubles too
    assert mask[0].sum() == 2 * 4  # the marked mask pixel now covers 2x2 pixels


def test_perspective_warp_point_lands_on_moved_pixel():
    torch.manual_seed(1)
    m = G.warp_mat(torch.tensor([0.3]), torch.tensor([-0.2]))
    img = torch.zeros(1, 1, 64, 64)
    img[0, 0, 20, 40] = 1.0
    pts = torch.tensor([[[pix2norm(40, 64), pix2norm(20, 64)]]])
    out = G.warp_images(img, m, mode="nearest")
    q = G.warp_points(pts, m)[0, 0]
    r, c = (out[0, 0] > 0.5).nonzero()[0].tolist()
    assert abs(norm2pix(q[0], 64).item() - c) <= 1 and abs(norm2pix(q[1], 64).item() - r) <= 1


def test_composed_random_warp_keeps_everything_aligned():
    torch.manual_seed(3)
    tfm = AffineCoordTfm(p_flip=0.5, flip_vert=True, max_rotate=30, p_rotate=1, min_zoom=1, max_zoom=1.3,
                         p_zoom=1, max_warp=0.0)
    b = marked_batch(n=8, row=7, col=8)
    img, mask, pts, _ = tfm(b, split_idx=0)
    for i in range(8):
        r, c = (mask[i] == 2).nonzero().float().mean(0).tolist()
        pr, pc = norm2pix(pts[i, 0, 1], H).item(), norm2pix(pts[i, 0, 0]).item()
        assert abs(pr - r) <= 1.0 and abs(pc - c) <= 1.0


def test_one_grid_sample_per_batch(monkeypatch):
    calls = []
    real = torch.nn.functional.grid_sample

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(torch.nn.functional, "grid_sample", counting)
    tfm = aug_transforms(max_warp=0.2)[0]
    img = TensorImage(torch.rand(4, 3, H, W))
    tfm((img,), split_idx=0)
    assert len(calls) == 1


def test_valid_split_is_identity_or_resize_only():
    b = marked_batch()
    out = Rotate(max_deg=45, p=1.0)(b, split_idx=1)
    assert all(o is ob for o, ob in zip(out, b))
    img = Zoom(p=1.0, size=8)(b, split_idx=1)[0]
    assert img.shape[-2:] == (8, 8)


def test_uint8_images_stay_uint8():
    img = TensorImage(torch.randint(0, 255, (2, 3, H, W), dtype=torch.uint8))
    out = Flip(p=1.0)(img, split_idx=0)
    assert out.dtype == torch.uint8 and isinstance(out, TensorImage)
    assert torch.equal(out.as_subclass(torch.Tensor), img.as_subclass(torch.Tensor).flip(-1))


def test_lighting_neutral_and_bounds():
    x = TensorImage(torch.rand(16, 3, 8, 8))
    same = G.lighting(x.as_subclass(torch.Tensor), torch.full((16,), 0.5), torch.ones(16))
    assert torch.allclose(same, x.as_subclass(torch.Tensor), atol=1e-4)
    torch.manual_seed(0)
    out = LightingTfm(0.4, 0.4, p=1.0)(x, split_idx=0)
    assert isinstance(out, TensorImage) and out.min() >= 0 and out.max() <= 1
    assert not torch.allclose(out, x)
    assert LightingTfm(0.4, 0.4, p=1.0)(x, split_idx=1) is x  # training only


def test_random_erasing_area():
    torch.manual_seed(0)
    x = TensorImage(torch.zeros(32, 3, 20, 20))
    out = RandomErasing(p=1.0, sl=0.1, sh=0.2)(x, split_idx=0).as_subclass(torch.Tensor)
    frac = (out != 0).float().mean((1, 2, 3))
    assert (frac > 0.03).all() and (frac < 0.3).all()


def test_aug_transforms_defaults_match_fastai():
    tfms = aug_transforms()
    aff, light = tfms
    assert aff.p_flip == 0.5 and not aff.flip_vert and aff.max_rotate == 10 and aff.min_zoom == 1
    assert aff.max_zoom == 1.1 and aff.max_warp == 0.2 and aff.p_rotate == 0.75
    assert light.max_brightness == 0.2 and light.p_light == 0.75
    assert aug_transforms(mult=2.0)[0].max_rotate == 20
    assert len(aug_transforms(max_lighting=0)) == 1


def test_config_round_trip_rebuilds_same_transform():
    for t in [Flip(p=0.3), Dihedral(), Rotate(20, p=0.4), Zoom(1.0, 1.5), Warp(0.3), *aug_transforms(size=24)]:
        again = type(t)(**t.get_config())
        assert again.get_config() == t.get_config()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_runs_on_the_batch_device():
    out = aug_transforms()[0](marked_batch(n=4, device="cuda"), split_idx=0)
    assert all(o.device.type == "cuda" for o in out)
