"""Every first-party plugin installed side by side, used together on one vision Learner.

This is the user's path from DESIGN §1: a folder of images -> ``ImageDataLoaders.from_folder`` with
``aug_transforms`` -> ``vision_learner(...).use(...)`` -> train -> ``export`` -> ``load_learner`` ->
``predict`` on an image file, with plugins from four distributions active at once (mixup, ema,
lamb as ``opt_func``, checkpoint from the kernel), and the CLI listing what is installed.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from torchloom import accuracy, load_learner

vision = pytest.importorskip("torchloom_vision")
for _dist in ("torchloom_mixup", "torchloom_lamb", "torchloom_ema", "torchloom_fp16"):
    pytest.importorskip(_dist)


def test_cli_lists_every_first_party_distribution():
    out = subprocess.run([sys.executable, "-m", "torchloom._cli", "plugins", "--json"], capture_output=True,
                         text=True, check=True).stdout
    listed = json.dumps(json.loads(out))
    for dist in ("torchloom-vision", "torchloom-mixup", "torchloom-fp16", "torchloom-lamb", "torchloom-ema"):
        assert dist in listed, f"{dist} missing from `torchloom plugins --json`"


@pytest.mark.slow
def test_folder_to_exported_classifier_with_plugins_from_four_distributions(tmp_path, one_torch_thread):
    path = vision.fashion_sample_path()
    torch.manual_seed(0)
    dls = vision.ImageDataLoaders.from_folder(path, valid="valid", img_cls="PILImageBW", bs=64,
                                              batch_tfms=vision.aug_transforms(max_warp=0.0))
    learn = vision.vision_learner(dls, vision.SmallResNet, metrics=accuracy, opt_func="lamb", path=tmp_path, progress=False)
    learn.use("mixup").use("ema", decay=0.9).use("checkpoint")
    with learn.no_logging():
        learn.fit_one_cycle(4, 1e-2)

    acc = learn.validate()[1]
    assert acc > 0.5, f"valid accuracy {acc:.3f} after 4 epochs: the combined run did not learn"
    used = learn.plugins_used
    assert used["mixup"]["dist"] == "torchloom-mixup" and used["ema"]["dist"] == "torchloom-ema"
    assert (tmp_path / "models" / "checkpoint.safetensors").exists()

    exported = learn.export(tmp_path / "export")
    restored = load_learner(exported)
    image = sorted((path / "valid").glob("*/*.png"))[0]
    label, idx, probs = restored.predict(image)
    assert label in dls.vocab and probs.shape == (len(dls.vocab),)
    assert label == learn.predict(image)[0], "the exported learner predicts differently from the live one"


def test_precision_slot_rejects_fp16_with_bf16():
    from torchloom_vision import SmallResNet
    dls = vision.ImageDataLoaders.from_folder(vision.fashion_sample_path(), img_cls="PILImageBW", bs=64)
    learn = vision.vision_learner(dls, SmallResNet(n_in=1, n_out=10), progress=False).use("bf16")
    with pytest.raises(Exception, match="fp16|bf16") as err:
        learn.use("fp16")
    assert "bf16" in str(err.value) and "fp16" in str(err.value)
