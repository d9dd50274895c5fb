"""learn.tta on the kernel's data layer: any loader with train-only random transforms works."""
from __future__ import annotations

import pytest
import torch

from tests.kernel.deploy.pointdata import make_learner
from torchloom.testing import synth_learner


@pytest.fixture(scope="module")
def learn():
    return make_learner()


def test_tta_averages_augmented_passes_and_mixes_in_the_plain_prediction(learn):
    preds, targs = learn.get_preds()
    torch.manual_seed(0)
    (aug, plain), t2 = learn.tta(n=3, beta=None)
    assert torch.equal(targs, t2) and torch.allclose(plain, preds)
    assert not torch.allclose(aug, plain, atol=1e-3)  # Jitter ran: it is train-only, so only TTA sees it
    torch.manual_seed(0)
    passes = []
    with learn.dls.valid.dataset.set_split_idx(0):
        dl = learn.dls.valid.new(shuffle=False)
        passes = [learn.get_preds(dl=dl)[0] for _ in range(3)]
    assert torch.allclose(aug, torch.stack(passes).mean(0), atol=1e-6)
    torch.manual_seed(0)
    mixed, _ = learn.tta(n=3, beta=0.4)
    assert torch.allclose(mixed, 0.6 * aug + 0.4 * plain, atol=1e-6)
    torch.manual_seed(0)
    mx, _ = learn.tta(n=3, use_max=True)
    assert torch.allclose(mx, torch.maximum(torch.stack(passes).max(0)[0], plain), atol=1e-6)
    assert learn.dls.valid.split_idx == 1  # the validation split is restored


def test_tta_without_random_transforms_warns_and_returns_plain_predictions():
    learn = make_learner(jitter=False, epochs=1)
    with pytest.warns(UserWarning, match="no train-only"):
        preds, _ = learn.tta()
    assert torch.allclose(preds, learn.get_preds()[0])


def test_tta_needs_torchloom_dataloaders():
    with pytest.raises(TypeError, match="set_split_idx"):
        synth_learner().tta()
