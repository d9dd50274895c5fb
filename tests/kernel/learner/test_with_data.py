"""The Learner on the kernel's real data layer: default loss, typed batches, predict decoding labels."""
from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from torchloom import Categorize, DataLoaders, Datasets, Learner, accuracy

NAMES = ["cat", "dog", "eel"] * 40
CENTERS = {"cat": (3.0, 0.0), "dog": (-3.0, 0.0), "eel": (0.0, 3.0)}


@pytest.fixture(scope="module")
def dls():
    g = torch.Generator().manual_seed(0)
    x = torch.stack([torch.tensor(CENTERS[n]) + torch.randn(2, generator=g) for n in NAMES])
    dsets = Datasets(list(range(len(NAMES))), [[x.__getitem__], [NAMES.__getitem__, Categorize()]],
                     splits=(list(range(90)), list(range(90, 120))))
    return DataLoaders.from_dsets(dsets.train, dsets.valid, bs=16, seed=0), x


def test_fit_predict_get_preds_on_real_dataloaders(dls):
    dls, x = dls
    torch.manual_seed(0)
    learn = Learner(dls, torch.nn.Linear(2, 3), metrics=accuracy, progress=False)
    learn.logger = lambda *a: None
    assert "CrossEntropy" in repr(learn.loss_func)  # default loss from the Categorize target
    learn.fit(3, lr=0.05)
    assert learn.recorder.values[-1][2] > 0.9
    label, idx, probs = learn.predict(0)
    assert label == "cat" and idx.item() == 0 and probs.argmax().item() == 0
    preds, targs = learn.get_preds(ds_idx=0)  # shuffled, drop_last loader: full and in dataset order
    assert preds.shape == (90, 3) and targs.tolist() == [NAMES.index(NAMES[i]) % 3 for i in range(90)]
    assert torch.allclose(preds, F.softmax(learn.model(x[:90]), -1).detach(), atol=1e-6)
    assert learn.validate()[1] == pytest.approx(learn.recorder.values[-1][2])
