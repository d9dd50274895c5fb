"""``learn.use("tensorboard")``: the event files hold what the Recorder saw (read back with tensorboard)."""
from __future__ import annotations

import sys

import pytest

from torchloom import accuracy
from torchloom.testing import synth_learner

pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed in this env")


def _events(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder))
    acc.Reload()
    return acc


def test_losses_metrics_lr_and_hparams_are_logged(tmp_path):
    learn = synth_learner(task="classification", metrics=accuracy, path=tmp_path)
    learn.use("tensorboard", log_dir=tmp_path / "tb")
    learn.fit_one_cycle(2, 1e-2)
    acc = _events(tmp_path / "tb")
    tags = set(acc.Tags()["scalars"])
    assert {"train/loss_smooth", "train/lr", "epoch/train_loss", "epoch/valid_loss", "epoch/accuracy"} <= tags
    n_batches = 2 * len(learn.dls.train)
    lrs = acc.Scalars("train/lr")
    assert [e.step for e in lrs] == list(range(1, n_batches + 1))
    assert [e.value for e in lrs] == pytest.approx(learn.recorder.lrs, rel=1e-6)
    assert max(e.value for e in lrs) == pytest.approx(1e-2, rel=0.05)  # the one-cycle peak
    assert [e.value for e in acc.Scalars("train/loss_smooth")] == pytest.approx(learn.recorder.losses, rel=1e-6)
    valid = acc.Scalars("epoch/accuracy")
    assert [e.step for e in valid] == [n_batches // 2, n_batches]
    assert [e.value for e in valid] == pytest.approx([v[2] for v in learn.recorder.values], rel=1e-6)
    hp = _events(tmp_path / "tb" / ".")  # add_hparams(run_name=".") writes into the same folder
    plugin_tags = hp.Tags().get("tensors", []) + list(hp.PluginTagToContent("hparams"))
    assert any("hparams" in t for t in plugin_tags)


def test_default_log_dir_is_one_run_folder_per_fit(tmp_path):
    learn = synth_learner(path=tmp_path).use("tensorboard")
    learn.fit(1)
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and any(p.name.startswith("events.out.tfevents") for p in runs[0].iterdir())


def test_missing_tensorboard_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    learn = synth_learner(path=tmp_path)
    with pytest.raises(ImportError, match=r"pip install 'torchloom\[tensorboard\]'"):
        learn.use("tensorboard")
    assert not hasattr(learn, "tensorboard")


def test_log_preds_adds_a_figure_of_predictions(tmp_path):
    pytest.importorskip("matplotlib").use("Agg")
    import torch
    from torch import nn

    from torchloom import Categorize, Datasets, ItemGetter, Learner

    g = torch.Generator().manual_seed(0)
    ys = torch.randint(0, 2, (64,), generator=g)
    items = [(torch.randn(2, generator=g) + 3 * y, ["no", "yes"][int(y)]) for y in ys]
    dls = Datasets(items, [[ItemGetter(0)], [ItemGetter(1), Categorize()]],
                   splits=[list(range(48)), list(range(48, 64))]).dataloaders(bs=16)
    learn = Learner(dls, nn.Linear(2, 2), progress=False, path=tmp_path)
    learn.use("tensorboard", log_dir=tmp_path / "tb", log_preds=True, n_preds=4)
    learn.fit(1)
    acc = _events(tmp_path / "tb")
    assert acc.Tags()["images"] == ["predictions"]
    img = acc.Images("predictions")[0]
    assert img.step == len(dls.train) and img.width > 100 and img.encoded_image_string[:4] == b"\x89PNG"
