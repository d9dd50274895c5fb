"""torchmetrics metrics as epoch metrics: the epoch value equals torchmetrics' own result on the same
predictions (not a per-batch average)."""
from __future__ import annotations

import pytest
import torch

from torchloom import F1Score, TorchMetric
from torchloom.testing import synth_learner

torchmetrics = pytest.importorskip("torchmetrics", reason="the torchmetrics extra is not installed in this env")


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


def _learn(metrics):
    # 5 overlapping classes, odd batch sizes: a per-batch average of F1 differs from the epoch F1
    return synth_learner(task="classification", n_classes=5, n_train=200, n_valid=203, bs=20, metrics=metrics,
                         seed=3)


def test_epoch_value_is_torchmetrics_result_on_all_predictions():
    tm_f1 = torchmetrics.F1Score(task="multiclass", num_classes=5, average="macro")
    tm_auroc = torchmetrics.AUROC(task="multiclass", num_classes=5)
    learn = _learn([tm_f1, TorchMetric(tm_auroc, name="auroc", activation=lambda p: p.softmax(-1)),
                    F1Score(average="macro")])
    learn.fit(2, 1e-2)
    names = learn.recorder.metric_names
    assert names[3:6] == ["multiclass_f1_score", "auroc", "f1_score"]
    f1, auroc, kernel_f1 = learn.recorder.values[-1][2:5]
    probs, targs = learn.get_preds()
    assert f1 == pytest.approx(float(torchmetrics.functional.f1_score(
        probs, targs, task="multiclass", num_classes=5, average="macro")), abs=1e-6)
    assert auroc == pytest.approx(float(torchmetrics.functional.auroc(probs, targs, task="multiclass",
                                                                       num_classes=5)), abs=1e-6)
    assert f1 == pytest.approx(kernel_f1, abs=1e-6)  # the kernel's own F1 agrees
    per_batch = torch.stack([torchmetrics.functional.f1_score(probs[i:i + 20], targs[i:i + 20], task="multiclass",
                                                              num_classes=5, average="macro")
                             for i in range(0, len(targs), 20)])
    assert abs(float(per_batch.mean()) - f1) > 1e-4  # what the old per-batch averaging would have shown


def test_state_is_reset_each_epoch_and_learners_do_not_share_it():
    tm = torchmetrics.Accuracy(task="multiclass", num_classes=5)
    a, b = _learn([tm]), _learn([tm])
    a.fit(1)
    assert tm.update_count == 0  # the learner works on its own copy
    a.fit(1)
    probs, targs = a.get_preds()
    assert a.recorder.values[-1][2] == pytest.approx(float((probs.argmax(1) == targs).float().mean()), abs=1e-6)
    assert b.metrics[0].metric is not a.metrics[0].metric


def test_non_torchmetrics_objects_are_refused_with_the_type():
    with pytest.raises(TypeError, match="torchmetrics.Metric.*function"):
        TorchMetric(lambda p, t: p)
