"""Metric functions, epoch metrics (bs-weighted, accumulated), and the flattened losses."""
from __future__ import annotations

import types

import pytest
import torch
from torch.nn import functional as F

from torchloom import (
    BCEWithLogitsLossFlat,
    CrossEntropyLossFlat,
    F1Score,
    L1LossFlat,
    MSELossFlat,
    accuracy,
    accuracy_multi,
    error_rate,
    mae,
    rmse,
    top_k_accuracy,
)
from torchloom._metrics import (
    AccumMetric,
    AvgLoss,
    AvgMetric,
    AvgSmoothLoss,
    Precision,
    Recall,
    ValueMetric,
    mk_metric,
    mse,
)


def fake_learn(pred, targ, loss=None):
    return types.SimpleNamespace(pred=pred, yb=(targ,), loss=loss)


def feed(metric, batches):
    metric.reset()
    for p, t in batches:
        metric.accumulate(fake_learn(p, t))
    v = metric.value
    return v.item() if isinstance(v, torch.Tensor) else v


def test_metric_functions():
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 1.0, 2.0], [1.0, 3.0, 0.0], [0.5, 0.0, 0.2]])
    targ = torch.tensor([0, 1, 1, 2])
    assert accuracy(logits, targ).item() == pytest.approx(0.5)
    assert error_rate(logits, targ).item() == pytest.approx(0.5)
    assert top_k_accuracy(logits, targ, k=2).item() == pytest.approx(1.0)
    assert top_k_accuracy(logits, targ, k=1).item() == pytest.approx(0.5)
    multi_t = torch.tensor([[1, 0], [0, 1]])
    assert accuracy_multi(torch.tensor([[3.0, -3.0], [3.0, 3.0]]), multi_t).item() == pytest.approx(0.75)
    assert accuracy_multi(torch.tensor([[0.9, 0.2], [0.1, 0.6]]), multi_t, sigmoid=False).item() == 1.0
    a, b = torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 0.0, 1.0])
    assert mae(a, b).item() == pytest.approx(5 / 3) and mse(a, b).item() == pytest.approx(13 / 3)
    with pytest.raises(ValueError, match="same size"):
        mae(a, torch.zeros(2))


def test_avg_metric_is_batch_size_weighted():
    batches = [(torch.tensor([[1.0, 0.0]] * 3), torch.tensor([0, 0, 0])),  # 3/3 right
               (torch.tensor([[1.0, 0.0]]), torch.tensor([1]))]  # 0/1 right
    assert feed(AvgMetric(accuracy), batches) == pytest.approx(0.75)  # not (1 + 0) / 2
    assert mk_metric(accuracy).name == "accuracy"


def test_rmse_is_over_the_whole_epoch_and_instances_are_per_learner():
    batches = [(torch.tensor([0.0, 0.0]), torch.tensor([1.0, 1.0])), (torch.tensor([0.0]), torch.tensor([4.0]))]
    m = mk_metric(rmse)
    assert m is not rmse and m.name == "rmse"
    assert feed(m, batches) == pytest.approx(((1 + 1 + 16) / 3) ** 0.5)
    assert rmse.preds == []  # the shared module-level object was not touched


def test_avg_loss_and_smooth_loss():
    al = AvgLoss()
    al.accumulate(fake_learn(None, torch.zeros(3), loss=torch.tensor(1.0)))
    al.accumulate(fake_learn(None, torch.zeros(1), loss=torch.tensor(5.0)))
    assert al.value.item() == pytest.approx(2.0)
    al.reset()  # a loss left unreduced (one value per item) counts by its mean
    al.accumulate(fake_learn(None, torch.zeros(2), loss=torch.tensor([1.0, 3.0])))
    al.accumulate(fake_learn(None, torch.zeros(2), loss=torch.tensor(6.0)))
    assert al.value.item() == pytest.approx(4.0)
    sm = AvgSmoothLoss(beta=0.5)
    for v in (4.0, 2.0):
        sm.accumulate(fake_learn(None, torch.zeros(1), loss=torch.tensor(v)))
    # ema: 0.5*4 = 2 -> 0.5*2 + 0.5*2 = 2 ; debiased by (1 - 0.25)
    assert sm.value.item() == pytest.approx(2.0 / 0.75)


def test_value_metric_and_accum_metric_options():
    assert ValueMetric(lambda: 3.0, "three").value == 3.0 and ValueMetric(lambda: 3.0, "three").name == "three"
    m = AccumMetric(lambda p, t: (p == t).float().mean(), dim_argmax=-1, activation="softmax", name="acc2")
    assert feed(m, [(torch.tensor([[0.0, 2.0], [3.0, 0.0]]), torch.tensor([1, 1]))]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="activation"):
        AccumMetric(lambda p, t: p, activation="relu")
    with pytest.raises(TypeError, match="metrics must be"):
        mk_metric(3)


def _sk_scores(pred, targ, n):
    """Reference precision/recall/F1 per class by counting (what sklearn computes)."""
    out = []
    for c in range(n):
        tp = sum(1 for p, t in zip(pred, targ) if p == c and t == c)
        fp = sum(1 for p, t in zip(pred, targ) if p == c and t != c)
        fn = sum(1 for p, t in zip(pred, targ) if p != c and t == c)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
        out.append((prec, rec, f1, tp + fp + fn > 0))
    return out


def test_f1_precision_recall_binary_and_macro_over_batches():
    torch.manual_seed(0)
    logits = torch.randn(50, 3)
    targ = torch.randint(0, 3, (50,))
    pred = logits.argmax(-1).tolist()
    ref = _sk_scores(pred, targ.tolist(), 3)
    batches = [(logits[i:i + 16], targ[i:i + 16]) for i in range(0, 50, 16)]
    macro = [sum(r[k] for r in ref if r[3]) / sum(r[3] for r in ref) for k in range(3)]
    assert feed(Precision(average="macro"), batches) == pytest.approx(macro[0])
    assert feed(Recall(average="macro"), batches) == pytest.approx(macro[1])
    assert feed(F1Score(average="macro"), batches) == pytest.approx(macro[2])
    assert feed(F1Score(average="micro"), batches) == pytest.approx(sum(p == t for p, t in zip(pred, targ.tolist())) / 50)
    b_logits = logits[:, :2]
    b_targ = (targ > 0).long()
    ref2 = _sk_scores(b_logits.argmax(-1).tolist(), b_targ.tolist(), 2)
    assert feed(F1Score(), [(b_logits, b_targ)]) == pytest.approx(ref2[1][2])
    assert feed(Precision(pos_label=0), [(b_logits, b_targ)]) == pytest.approx(ref2[0][0])
    probs = torch.tensor([0.9, 0.2, 0.7, 0.4])
    assert feed(Recall(), [(probs, torch.tensor([1, 1, 0, 0]))]) == pytest.approx(0.5)
    assert F1Score().name == "f1_score"
    with pytest.raises(ValueError, match="average"):
        F1Score(average="weighted")


def test_cross_entropy_flat_matches_torch_and_decodes():
    inp, targ = torch.randn(8, 5), torch.randint(0, 5, (8,))
    lf = CrossEntropyLossFlat()
    assert lf(inp, targ).item() == pytest.approx(F.cross_entropy(inp, targ).item())
    seq, starg = torch.randn(2, 7, 5), torch.randint(0, 5, (2, 7))
    assert lf(seq, starg).item() == pytest.approx(F.cross_entropy(seq.reshape(-1, 5), starg.reshape(-1)).item())
    img, itarg = torch.randn(2, 5, 3, 3), torch.randint(0, 5, (2, 3, 3))
    assert CrossEntropyLossFlat(axis=1)(img, itarg).item() == pytest.approx(F.cross_entropy(img, itarg).item(), rel=1e-5)
    assert torch.allclose(lf.activation(inp).sum(-1), torch.ones(8))
    assert torch.equal(lf.decodes(inp), inp.argmax(-1))
    lf.reduction = "none"
    assert lf(inp, targ.int()).shape == (8,) and lf.func.reduction == "none"


def test_bce_mse_l1_flat():
    logits, t = torch.randn(4, 3), torch.randint(0, 2, (4, 3))
    lf = BCEWithLogitsLossFlat(thresh=0.3)
    assert lf(logits, t).item() == pytest.approx(F.binary_cross_entropy_with_logits(logits, t.float()).item())
    assert torch.equal(lf.decodes(lf.activation(logits)), torch.sigmoid(logits) > 0.3)
    p, y = torch.randn(6, 1), torch.randint(0, 3, (6,))
    assert MSELossFlat()(p, y).item() == pytest.approx(F.mse_loss(p.view(-1), y.float()).item())
    assert L1LossFlat()(p, y).item() == pytest.approx(F.l1_loss(p.view(-1), y.float()).item())
    assert torch.equal(MSELossFlat().activation(p), p)


def test_smooth_loss_equals_fastai_debiased_ema():
    vals = [3.0, 1.0, 4.0, 1.5, 9.0, 2.6, 5.3, 5.8]
    sm, ema = AvgSmoothLoss(beta=0.98), 0.0
    for i, v in enumerate(vals, 1):
        sm.accumulate(fake_learn(None, torch.zeros(1), loss=torch.tensor([v, v])))
        ema = 0.98 * ema + 0.02 * v
        assert sm.value.item() == pytest.approx(ema / (1 - 0.98 ** i), rel=1e-5)


def test_smooth_loss_folded_in_chunks_matches_step_by_step():
    torch.manual_seed(0)
    vals = (torch.rand(1500) * 3).tolist()
    sm, ema, ref = AvgSmoothLoss(beta=0.98), 0.0, []
    for i, v in enumerate(vals, 1):
        sm.accumulate(fake_learn(None, torch.zeros(1), loss=torch.tensor(v)))
        ema = 0.98 * ema + 0.02 * v
        ref.append(ema / (1 - 0.98 ** i))
        if i == 700:
            assert sm.value.item() == pytest.approx(ref[-1], rel=1e-5)  # a read in the middle folds early
    steps = sm.take_steps()
    assert steps.shape == (1500,) and sm.take_steps() is None
    assert torch.allclose(steps.double(), torch.tensor(ref, dtype=torch.float64), rtol=1e-5)
    assert sm._chunk < 1500  # crossed several chunks


def test_smooth_loss_host_fold_continues_device_fold():
    """take_floats (the Recorder's one transfer per epoch) gives the same averages as the device fold,
    whether or not the value was read (folded on the device) in between, and reads go on from it."""
    torch.manual_seed(1)
    vals = (torch.rand(90) * 3).tolist()
    sm, ema, ref, got = AvgSmoothLoss(beta=0.98), 0.0, [], []
    for i, v in enumerate(vals, 1):
        sm.accumulate(fake_learn(None, torch.zeros(1), loss=torch.tensor(v)))
        ema = 0.98 * ema + 0.02 * v
        ref.append(ema / (1 - 0.98 ** i))
        if i in (10, 25):
            assert sm.value.item() == pytest.approx(ref[-1], rel=1e-5)  # device fold in the middle
        if i in (30, 60):
            steps, extra = sm.take_floats([torch.tensor(7.5), torch.tensor(2, dtype=torch.int64)])
            assert extra == [7.5, 2.0] and sm.take_floats() == ([], [])
            got += steps
            assert sm.value.item() == pytest.approx(ref[-1], rel=1e-6)  # no pending: the host result
        if i == 75:
            assert sm.value.item() == pytest.approx(ref[-1], rel=1e-5)  # device fold from the host state
    got += sm.take_floats()[0]
    assert got == pytest.approx(ref, rel=1e-5) and sm.count == 90
