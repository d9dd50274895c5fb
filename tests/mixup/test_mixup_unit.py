"""MixUp / CutMix batch and loss arithmetic, driven event by event on a minimal stand-in learner."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchloom_mixup import CutMix, MixedLoss, MixUp, per_sample_loss


def attach(cb, xb, yb, loss_func=None):
    learn = SimpleNamespace(xb=xb, yb=yb, training=True, loss_func=loss_func or nn.CrossEntropyLoss())
    cb.learn = learn
    cb.before_train()
    return learn


def test_mixup_interpolates_each_sample_with_its_partner():
    torch.manual_seed(0)
    bs = 16
    x = torch.eye(bs) * 3.0                      # sample i is 3*e_i, so the mix is readable
    y = torch.arange(bs)
    cb = MixUp(alpha=0.4)
    learn = attach(cb, (x,), (y,))
    cb.before_batch()
    mixed, = learn.xb
    lam = cb.lam
    partner = cb.yb1[0]                          # y = arange, so the shuffled targets are the permutation
    assert lam.shape == (bs,) and (lam >= 0.5).all() and (lam <= 1).all()
    assert len(set(lam.tolist())) > 1            # one draw per sample, not one per batch
    want = lam[:, None] * x + (1 - lam[:, None]) * x[partner]
    assert torch.allclose(mixed, want)
    assert not torch.equal(mixed, x)
    assert learn.yb[0] is y                      # class indices are not interpolated


def test_mixed_loss_is_the_per_sample_interpolation_of_both_losses():
    torch.manual_seed(1)
    x, y = torch.randn(8, 5), torch.randint(0, 3, (8,))
    base = nn.CrossEntropyLoss()
    cb = MixUp()
    learn = attach(cb, (x,), (y,), base)
    assert isinstance(learn.loss_func, MixedLoss)
    cb.before_batch()
    pred = torch.randn(8, 3)
    got = learn.loss_func(pred, *learn.yb)
    l_y = F.cross_entropy(pred, y, reduction="none")
    l_y1 = F.cross_entropy(pred, cb.yb1[0], reduction="none")
    want = (cb.lam * l_y + (1 - cb.lam) * l_y1).mean()
    assert got.item() == pytest.approx(want.item(), rel=1e-6)
    assert base.reduction == "mean"              # the temporary 'none' was undone
    base.reduction = "sum"
    assert learn.loss_func(pred, *learn.yb).item() == pytest.approx(want.item() * 8, rel=1e-6)


def test_mixed_loss_keeps_base_attributes_and_passes_through_outside_training():
    base = nn.CrossEntropyLoss()
    base.activation = lambda t: t.softmax(-1)
    cb = MixUp()
    learn = attach(cb, (torch.randn(4, 2),), (torch.tensor([0, 1, 0, 1]),), base)
    cb.before_batch()
    assert learn.loss_func.activation is base.activation
    learn.training = False
    pred = torch.randn(4, 2)
    assert learn.loss_func(pred, *learn.yb).item() == pytest.approx(base(pred, *learn.yb).item())


def test_float_targets_are_interpolated_and_loss_left_alone():
    torch.manual_seed(2)
    x = torch.randn(6, 4)
    y = F.one_hot(torch.arange(6) % 3, 3).float()
    cb = MixUp()
    learn = attach(cb, (x,), (y,), nn.BCEWithLogitsLoss())
    cb.before_batch()
    assert cb.yb1 is None
    ymix = learn.yb[0]
    assert torch.allclose(ymix.sum(1), torch.ones(6))          # still a distribution over classes
    assert (ymix.max(1).values >= 0.5 - 1e-6).all()
    pred = torch.randn(6, 3)
    assert learn.loss_func(pred, *learn.yb).item() == pytest.approx(
        F.binary_cross_entropy_with_logits(pred, ymix).item())


def test_tabular_batch_mixes_continuous_keeps_categorical():
    torch.manual_seed(3)
    cats = torch.randint(0, 10, (12, 3))
    conts = torch.randn(12, 4)
    cb = MixUp()
    learn = attach(cb, (cats, conts), (torch.randint(0, 2, (12,)),))
    cb.before_batch()
    new_cats, new_conts = learn.xb
    assert new_cats is cats
    assert new_conts.shape == conts.shape and not torch.allclose(new_conts, conts)


def test_mixup_rejects_an_input_without_the_batch_dimension():
    cb = MixUp()
    attach(cb, (torch.randn(5, 2), torch.randn(3)), (torch.arange(5),))
    with pytest.raises(ValueError, match=r"input 1 has shape \(3,\)"):
        cb.before_batch()


def test_cutmix_pastes_a_box_from_the_partner_and_weights_by_area():
    torch.manual_seed(4)
    bs, H, W = 8, 12, 10
    x = torch.arange(bs, dtype=torch.float32).view(bs, 1, 1, 1).expand(bs, 3, H, W).contiguous()
    orig = x.clone()
    cb = CutMix(alpha=1.0)
    learn = attach(cb, (x,), (torch.arange(bs),))
    for _ in range(20):                                         # some draws give an empty box; find one that cuts
        cb.before_batch()
        mixed = learn.xb[0]
        if not torch.equal(mixed, x):
            break
        learn.xb = (x,)
    assert torch.equal(x, orig)                                 # the batch was copied, not modified in place
    partner = cb.yb1[0]
    from_partner = mixed != x                                   # values differ where another sample was pasted
    for i in range(bs):
        if partner[i] == i:
            continue
        box = from_partner[i]
        assert box.any()
        assert (mixed[i][box] == float(partner[i])).all()
        kept = 1 - box[0].float().mean().item()
        assert cb.lam[i].item() == pytest.approx(kept)
    assert len(set(cb.lam.tolist())) == 1                       # one box per batch


def test_cutmix_rand_bbox_stays_inside_the_image():
    torch.manual_seed(5)
    for lam in (0.0, 0.3, 0.99):
        for _ in range(50):
            x1, y1, x2, y2 = CutMix.rand_bbox(7, 5, lam)
            assert 0 <= x1 <= x2 <= 7 and 0 <= y1 <= y2 <= 5


def test_cutmix_needs_images():
    cb = CutMix()
    attach(cb, (torch.randn(4, 6),), (torch.arange(4),))
    with pytest.raises(ValueError, match=r"CutMix needs image-like inputs .*\(4, 6\)"):
        cb.before_batch()


@pytest.mark.parametrize("alpha", [0, -1.0, float("inf"), "0.4", None])
def test_bad_alpha_is_a_clear_error(alpha):
    with pytest.raises(ValueError, match="alpha must be a positive"):
        MixUp(alpha=alpha)
    with pytest.raises(ValueError, match="CutMix: alpha"):
        CutMix(alpha=alpha)


def test_per_sample_loss_paths():
    pred, y = torch.randn(4, 3), torch.tensor([0, 2, 1, 0])
    y1 = torch.tensor([1, 1, 0, 2])
    for lf in (F.cross_entropy, nn.CrossEntropyLoss()):
        l1, l2 = per_sample_loss(lf, pred, (y1,), (y,))
        torch.testing.assert_close(l1, F.cross_entropy(pred, y1, reduction="none"))
        torch.testing.assert_close(l2, F.cross_entropy(pred, y, reduction="none"))

    def my_loss(p, t):
        return F.cross_entropy(p, t)

    with pytest.raises(TypeError, match="'my_loss' has no `reduction`"):
        per_sample_loss(my_loss, pred, (y,))


def test_restore_is_idempotent_and_respects_a_later_replacement():
    base = nn.CrossEntropyLoss()
    cb = MixUp()
    learn = attach(cb, (torch.randn(2, 2),), (torch.tensor([0, 1]),), base)
    cb.before_train()                                           # second before_train does not double-wrap
    assert learn.loss_func.base is base
    cb.after_train()
    assert learn.loss_func is base
    cb.cleanup_fit()
    assert learn.loss_func is base
    cb.before_train()
    other = nn.MSELoss()
    learn.loss_func = other                                      # someone else swapped it meanwhile
    cb.after_fit()
    assert learn.loss_func is other


def test_per_pixel_losses_are_weighted_per_sample():
    """Segmentation: CrossEntropyLossFlat(axis=1) gives one loss per pixel, flattened over the batch."""
    from torchloom import CrossEntropyLossFlat

    torch.manual_seed(6)
    bs, c, h, w = 4, 3, 5, 5
    x = torch.randn(bs, 1, h, w)
    y = torch.randint(0, c, (bs, h, w))
    cb = MixUp()
    learn = attach(cb, (x,), (y,), CrossEntropyLossFlat(axis=1))
    cb.before_batch()
    pred = torch.randn(bs, c, h, w)
    got = learn.loss_func(pred, *learn.yb)
    per_pix = F.cross_entropy(pred, y, reduction="none")          # (bs, h, w)
    per_pix1 = F.cross_entropy(pred, cb.yb1[0], reduction="none")
    lam = cb.lam.view(bs, 1, 1)
    assert got.item() == pytest.approx((lam * per_pix + (1 - lam) * per_pix1).mean().item(), rel=1e-5)
