"""End to end on the bundled sample: train a classifier and a U-Net, export, load_learner, predict, show."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torchloom_vision import (
    ImageDataLoaders,
    PILImageBW,
    SegmentationDataLoaders,
    SmallResNet,
    dice,
    fashion_sample_path,
    fashion_seg_sample_path,
    foreground_acc,
    show_results,
    unet_learner,
    vision_learner,
)

from torchloom import accuracy, load_learner


@pytest.fixture(scope="module")
def trained():
    """A SmallResNet trained 3 epochs on the 1,000 sample images (shared by the tests below)."""
    torch.manual_seed(0)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        dls = ImageDataLoaders.from_folder(fashion_sample_path(), img_cls=PILImageBW, bs=32, seed=0)
        learn = vision_learner(dls, SmallResNet, metrics=accuracy, progress=False)
        learn.fit_one_cycle(3, 1e-2)
    finally:
        torch.set_num_threads(n)
    return learn


@pytest.mark.slow
def test_classifier_learns_well_above_chance(trained):
    loss, acc = trained.validate()
    assert acc > 0.6  # 10 classes: chance is 0.1
    assert trained.model_spec["factory"] == "torchloom_vision.models.vision:create_vision_model"
    assert trained.model_spec["kwargs"]["arch"] == "torchloom_vision.models.small:SmallResNet"
    assert trained.model_spec["kwargs"]["n_in"] == 1


@pytest.mark.slow
def test_export_load_learner_predict(trained, tmp_path):
    trained.path = tmp_path
    trained.export("fashion")
    files = list(tmp_path.iterdir())
    assert files
    fn = sorted((fashion_sample_path() / "valid" / "Trouser").glob("*.png"))[0]
    loaded = load_learner(tmp_path / "fashion")
    convs = [p for p in loaded.model.parameters() if p.dim() == 4 and p.shape[-1] > 1]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)  # trained that way
    dec, idx, probs = loaded.predict(fn)
    dec0, idx0, probs0 = trained.predict(fn)
    assert torch.allclose(probs, probs0, atol=1e-5) and int(idx) == int(idx0)
    assert probs.shape == (10,) and abs(float(probs.sum()) - 1) < 1e-4
    assert list(loaded.dls.vocab) == list(trained.dls.vocab)
    trousers = sorted((fashion_sample_path() / "valid" / "Trouser").glob("*.png"))[:10]
    hits = sum(loaded.dls.vocab[int(loaded.predict(f)[1])] == "Trouser" for f in trousers)
    assert hits >= 6  # trousers are an easy class


@pytest.mark.slow
def test_freeze_trains_only_the_head(trained):
    trained.freeze()
    try:
        groups = trained.splitter(trained.model)
        assert all(p.requires_grad is False for p in groups[0] if p.ndim > 1)  # conv weights frozen
        assert all(p.requires_grad for p in groups[1])
    finally:
        trained.unfreeze()


@pytest.mark.slow
def test_show_results_marks_wrong_predictions(trained, tmp_path):
    pytest.importorskip("matplotlib")
    fig = show_results(trained, max_n=9)
    colors = {ax.title.get_color() for ax in fig.axes if ax.get_title()}
    assert colors <= {"red", "green"} and colors
    assert all("/" in ax.get_title() for ax in fig.axes if ax.get_title())
    fig.savefig(tmp_path / "results.png")


@pytest.mark.slow
def test_unet_segments_the_derived_masks(tmp_path):
    torch.manual_seed(0)
    root = fashion_seg_sample_path()
    codes = (root / "codes.txt").read_text().split()
    dls = SegmentationDataLoaders.from_label_func(
        root, sorted((root / "images").glob("*.png")), lambda p: root / "labels" / f"{Path(p).stem}_P.png",
        codes=codes, img_cls=PILImageBW, bs=8, seed=0)
    learn = unet_learner(dls, SmallResNet, metrics=[dice, foreground_acc], progress=False)
    assert learn.model_spec["kwargs"]["n_out"] == 11
    learn.fit_one_cycle(4, 5e-3)
    loss, d, fg = learn.validate()
    assert d > 0.8  # foreground found; predicting "all foreground" scores 0.61 on this sample
    assert 0 <= fg <= 1
    pytest.importorskip("matplotlib")
    fig = show_results(learn, max_n=2)
    assert [ax.get_title() for ax in fig.axes[:2]] == ["target", "prediction"]
    fig.savefig(tmp_path / "seg_results.png")


def _conv_weights(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p for p in model.parameters() if p.ndim == 4]


@pytest.mark.slow
def test_channels_last_by_default_and_weights_load_into_either_layout(trained, tmp_path):
    """channels_last (faster convolutions on CPU and GPU) is the default; the saved weights do not depend
    on the layout, so they load into a contiguous learner (``channels_last=False``) with the same outputs."""
    convs = _conv_weights(trained.model)  # (1x1 kernels and 1-channel inputs fit both layouts)
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    assert sum(not p.is_contiguous() for p in convs) >= 5
    trained.path = tmp_path
    trained.save("cl")
    plain = vision_learner(trained.dls, SmallResNet, metrics=accuracy, progress=False, channels_last=False,
                           path=tmp_path)
    plain.load("cl")
    convs = _conv_weights(plain.model)  # loading keeps the learner's layout
    assert all(p.is_contiguous() for p in convs)
    assert sum(not p.is_contiguous(memory_format=torch.channels_last) for p in convs) >= 5
    p_cl, _ = trained.get_preds()
    p_plain, _ = plain.get_preds()
    torch.testing.assert_close(p_plain, p_cl, rtol=1e-4, atol=1e-5)
