"""``learn.summary()``: layers, output shapes, parameter counts, frozen parts, callbacks and plugins."""
from __future__ import annotations

import pytest
from torch import nn

from torchloom import Learner, accuracy
from torchloom.testing import synth_learner


def _mlp_learner(**kw):
    base = synth_learner(task="classification", n_classes=3)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    return Learner(base.dls, model, loss_func=base.loss_func, metrics=accuracy, progress=False, **kw)


def test_rows_shapes_and_counts():
    learn = _mlp_learner()
    s = learn.summary()
    assert [(r.name, r.type, r.output_shape, r.params) for r in s.rows] == [
        ("0", "Linear", "16 x 8", 40), ("1", "BatchNorm1d", "16 x 8", 16), ("2", "ReLU", "16 x 8", 0),
        ("3", "Linear", "16 x 3", 27)]
    assert s.total_params == s.trainable_params == 83
    text = str(s)
    assert text.splitlines()[0] == "Sequential (input shape: 16 x 4, output shape: 16 x 3)"
    assert "Total params: 83" in text and "Frozen (non-trainable) params: 0" in text
    assert "Optimizer: adam" in text and "Metrics: accuracy" in text
    assert "  - recorder (Recorder)" in text and "Plugins in use: none" in text
    assert repr(s) == text  # a notebook shows the table, not a quoted string


def test_frozen_layers_and_used_plugins_are_reported(tmp_path):
    learn = _mlp_learner(path=tmp_path)
    for p in learn.model[0].parameters():
        p.requires_grad_(False)
    learn.model[3].bias.requires_grad_(False)
    learn.use("csv_logger")
    s = learn.summary()
    assert [r.trainable for r in s.rows] == ["False", "True", "", "partial"]
    assert s.trainable_params == 83 - 40 - 3
    assert "Frozen (non-trainable) params: 43" in s
    assert "Plugins in use: csv_logger (torchloom " in s and "  - csv_logger (CSVLogger)" in s


def test_model_state_is_restored_and_nothing_trains():
    learn = _mlp_learner()
    learn.model.train()
    before = [p.detach().clone() for p in learn.model.parameters()]
    stats = learn.model[1].running_mean.clone()
    learn.summary()
    assert learn.model.training and all(m.training for m in learn.model.modules())
    assert all((a == b).all() for a, b in zip(before, learn.model.parameters()))
    assert (learn.model[1].running_mean == stats).all()  # eval mode: BatchNorm stats untouched


def test_a_custom_module_with_its_own_parameters():
    s = synth_learner().summary()  # RegModel: two parameters, no children
    assert [(r.name, r.params, r.output_shape) for r in s.rows] == [("RegModel", 2, "16 x 1")]


def test_non_module_models_are_refused():
    learn = synth_learner()
    learn.model = lambda x: x
    with pytest.raises(TypeError, match="nn.Module"):
        learn.summary()
