"""ClassificationInterpretation on images: top losses are drawn as the images themselves."""
from __future__ import annotations

import pytest
import torch
from torchloom_vision import ImageDataLoaders, PILImageBW, SmallResNet, fashion_sample_path, vision_learner

from torchloom import ClassificationInterpretation, accuracy


def test_top_losses_show_images_and_the_matrix_covers_the_validation_set(one_torch_thread):
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    torch.manual_seed(0)
    dls = ImageDataLoaders.from_folder(fashion_sample_path(), img_cls=PILImageBW, bs=64)
    learn = vision_learner(dls, SmallResNet, metrics=accuracy, progress=False)
    learn.fit_one_cycle(1, 1e-2)
    interp = ClassificationInterpretation.from_learner(learn)
    cm = interp.confusion_matrix()
    assert cm.shape == (10, 10) and int(cm.sum()) == len(dls.valid_ds) == 300
    assert interp.vocab == list(dls.vocab)
    fig = interp.plot_top_losses(4)
    _, idxs = interp.top_losses(4)
    for ax, i in zip(fig.axes[:4], idxs.tolist()):
        assert len(ax.images) == 1 and ax.images[0].get_array().shape[:2] == (28, 28)  # the image itself
        pred, actual = ax.get_title().split("\n")[0].split("/")
        assert actual == dls.vocab[int(interp.targs[i])] and pred == dls.vocab[int(interp.decoded[i])]
    assert len(interp.plot_confusion_matrix().axes[0].texts) == 100
