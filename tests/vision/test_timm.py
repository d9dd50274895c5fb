"""timm architectures through the optional extra: same body/head split, freeze and fine_tune, and the
model is rebuilt by name by load_learner and exported to ONNX like a torchvision one."""
from __future__ import annotations

import pytest
import torch

timm = pytest.importorskip("timm")

from torchloom_vision import ImageDataLoaders, PILImageBW, fashion_sample_path, vision_learner  # noqa: E402
from torchloom_vision.models.timm_body import TimmBody  # noqa: E402

from torchloom import accuracy, load_learner  # noqa: E402

ARCH = "timm/resnet10t"


@pytest.mark.slow
def test_timm_body_fine_tunes_exports_and_reloads(tmp_path):
    torch.manual_seed(0)
    dls = ImageDataLoaders.from_folder(fashion_sample_path(), img_cls=PILImageBW, bs=32, seed=0)
    learn = vision_learner(dls, ARCH, metrics=accuracy, progress=False)
    learn.logger = lambda *a, **k: None
    assert isinstance(learn.model[0], TimmBody) and learn.model_spec["kwargs"]["arch"] == ARCH
    body, head = learn.splitter(learn.model)
    assert len(body) + len(head) == len(list(learn.model.parameters()))
    learn.freeze()
    assert not any(p.requires_grad for p in body if p.ndim > 1) and all(p.requires_grad for p in head)
    learn.fine_tune(1, 2e-3, freeze_epochs=1)
    assert all(p.requires_grad for p in learn.model.parameters())  # fine_tune unfroze the body
    loss, acc = learn.validate()
    assert acc > 0.3  # 10 classes, two short epochs from scratch
    learn.path = tmp_path
    learn.export("timm")
    loaded = load_learner(tmp_path / "timm")
    f = sorted((fashion_sample_path() / "valid" / "Bag").glob("*.png"))[0]
    assert torch.allclose(loaded.predict(f)[2], learn.predict(f)[2], atol=1e-5)
    pytest.importorskip("onnxscript")
    from torchloom import load_exported

    onnx = learn.export(tmp_path / "timm", format="onnx")
    m = load_exported(onnx)
    x = m.reader()(str(f))[None]
    assert torch.allclose(torch.from_numpy(m(x)[0][0]), learn.predict(f)[2], atol=1e-4)


def test_unknown_timm_names_and_missing_files_are_clear():
    from torchloom_vision import create_vision_model

    with pytest.raises(ValueError, match="unknown timm architecture 'resnet10x'.*resnet10t"):
        create_vision_model("timm/resnet10x", n_out=3)
    with pytest.raises(FileNotFoundError, match="nothere.pth"):
        create_vision_model(ARCH, n_out=3, pretrained="nothere.pth")
