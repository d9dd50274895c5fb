"""Default callbacks: train/eval, type stripping (torch.compile), Recorder, progress bar and quiet modes."""
from __future__ import annotations

import io
import sys
import types

import pytest
import torch

from tests.kernel.learner.helpers import tiny
from torchloom import Callback, TensorBase, accuracy, error_rate
from torchloom.callbacks._core import Recorder, format_time
from torchloom.callbacks._progress import ProgressCallback, display_mode


class TypeSpy(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner, self.seen = inner, []

    def forward(self, x):
        self.seen.append(type(x))
        return self.inner(x)


def typed(learn):
    """Make every batch typed, as the data pipeline would."""
    for dl in (learn.dls.train, learn.dls.valid):
        dl.tensors = tuple(TensorBase(t) for t in dl.tensors)
    return learn


def test_cast_to_tensor_hands_plain_tensors_to_model_and_loss():
    learn = typed(tiny())
    learn.model = TypeSpy(learn.model)
    seen_y = []
    learn.add_cb(Callback(after_loss=lambda cb: seen_y.append(type(cb.yb[0]))))
    learn.fit(1)
    assert set(learn.model.seen) == {torch.Tensor} and set(seen_y) == {torch.Tensor}
    learn2 = typed(tiny())
    learn2.remove_cb("cast_to_tensor")
    learn2.model = TypeSpy(learn2.model)
    learn2.fit(1)
    assert set(learn2.model.seen) == {TensorBase}


@pytest.mark.slow
def test_torch_compile_model_trains_on_typed_batches():
    learn = typed(tiny(task="classification", metrics=accuracy))
    learn.model = torch.compile(learn.model, backend="eager")
    learn.fit(1)
    assert learn.recorder.values[0][0] > 0


def test_recorder_columns_values_and_log():
    rows = []
    learn = tiny(task="classification", metrics=[accuracy, error_rate])
    learn.logger = rows.append
    learn.fit(2, lr=0.05)
    rec = learn.recorder
    assert rec.metric_names == ["epoch", "train_loss", "valid_loss", "accuracy", "error_rate", "time"]
    assert len(rec.values) == 2 and all(len(v) == 4 for v in rec.values)
    assert learn.final_record == rec.values[-1]
    assert rec.values[-1][2] == pytest.approx(1 - rec.values[-1][3])
    assert [r[0] for r in rows] == [0, 1] and rows[0][-1] == "00:00" and len(rows[0]) == 6
    assert len(rec.losses) == 4 and rec.iters == [2, 4] and rec.lrs == [0.05] * 4
    assert rec.values[-1][0] == pytest.approx(rec.losses[-1])  # train_loss is the smoothed loss
    assert isinstance(learn.smooth_loss, torch.Tensor)


def test_recorder_valid_loss_is_batch_size_weighted():
    learn = tiny(task="classification", n_valid=20, bs=16)  # valid batches of 16 and 4
    learn.fit(1)
    pred_loss = torch.nn.functional.cross_entropy(learn.model(learn.dls.valid.tensors[0]), learn.dls.valid.tensors[1])
    assert learn.recorder.values[0][1] == pytest.approx(pred_loss.item(), rel=1e-5)


def test_recorder_train_metrics_names():
    learn = tiny(task="classification", metrics=accuracy, cbs=[])
    learn.remove_cb("recorder").add_cb(Recorder(train_metrics=True, add_time=False))
    learn.fit(1)
    assert learn.recorder.metric_names == ["epoch", "train_loss", "train_accuracy", "valid_loss", "valid_accuracy"]
    assert len(learn.recorder.values[0]) == 4


def test_one_host_sync_per_epoch(monkeypatch):
    calls = {"item": 0, "tolist": 0, "cpu": 0, "float": 0}
    for name, attr in (("item", "item"), ("tolist", "tolist"), ("cpu", "cpu"), ("float", "__float__")):
        orig = getattr(torch.Tensor, attr)

        def counted(self, *a, _orig=orig, _n=name, **k):
            calls[_n] += 1
            return _orig(self, *a, **k)

        monkeypatch.setattr(torch.Tensor, attr, counted)
    learn = tiny(task="classification", n_train=64, metrics=[accuracy, error_rate])
    from torchloom._metrics import F1Score

    learn.metrics = [accuracy, F1Score(average="macro")]
    learn.fit(3)
    assert calls == {"item": 0, "tolist": 3, "cpu": 0, "float": 0}


def test_metric_accumulators_stay_tensors():
    learn = tiny(task="classification", metrics=accuracy)
    acc = learn.metrics[0]
    learn.add_cb(Callback(after_validate=lambda cb: seen.append(type(acc.total))))
    seen = []
    learn.fit(1)
    assert seen == [torch.Tensor]


def test_format_time():
    assert format_time(5) == "00:05" and format_time(65) == "01:05" and format_time(3725) == "1:02:05"


def test_plots():
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    learn = tiny()
    learn.fit(2)
    ax = learn.recorder.plot_loss(skip_start=0).axes[0]
    assert len(ax.lines) == 2 and len(ax.lines[0].get_xdata()) == 4
    fig = learn.recorder.plot_sched()
    assert len(fig.axes) == 1
    with pytest.raises(KeyError, match="no recorded schedule"):
        learn.recorder.plot_sched(["mom"])


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_log_mode_prints_one_line_per_epoch():
    out = io.StringIO()
    learn = tiny(task="classification", metrics=accuracy, progress=False)
    learn.logger = print
    learn.add_cb(ProgressCallback(stream=out))
    learn.fit(3)
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert lines[0].split() == ["epoch", "train_loss", "valid_loss", "accuracy", "time"]
    assert [ln.split()[0] for ln in lines[1:]] == ["0", "1", "2"] and len(lines) == 4
    assert learn.logger is print  # restored after fit


def test_progress_terminal_mode_draws_bars_and_table():
    out = FakeTTY()
    learn = tiny(progress=False)
    learn.logger = print
    learn.add_cb(ProgressCallback(stream=out))
    learn.fit(1)
    text = out.getvalue()
    assert "\r" in text and "epoch 1/1 train" in text and "train_loss" in text


def test_display_mode_detection(monkeypatch):
    assert display_mode(io.StringIO()) == "log"
    assert display_mode(FakeTTY()) == "terminal"
    shell = types.SimpleNamespace(config={"IPKernelApp": {}})
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    assert display_mode(io.StringIO()) == "notebook"


def test_quiet_modes(capsys):
    learn = tiny(progress=True)
    learn.logger = print
    with learn.no_bar():
        assert not hasattr(learn, "progress")
        learn.fit(1)
    assert "epoch" not in capsys.readouterr().err and learn.progress in learn.cbs
    with learn.no_logging():
        learn.fit(1)
    assert capsys.readouterr().out == ""
    assert learn.logger is print


def test_progress_restores_logger_after_interrupt():
    out = io.StringIO()
    learn = tiny(progress=False)
    learn.logger = print
    learn.add_cb(ProgressCallback(stream=out))
    learn.add_cb(Callback(after_epoch=lambda cb: (_ for _ in ()).throw(KeyboardInterrupt())))
    with pytest.raises(KeyboardInterrupt):
        learn.fit(2)
    assert learn.logger is print and learn.progress.bar is None


def test_a_broken_progress_display_does_not_kill_training():
    class BrokenStream(io.StringIO):
        def write(self, s):
            raise OSError("display gone")

    learn = tiny(progress=False)
    learn.logger = print
    learn.add_cb(ProgressCallback(stream=BrokenStream(), mode="log"))
    with pytest.warns(RuntimeWarning, match="'progress'.*display gone"):
        learn.fit(2)
    assert len(learn.recorder.values) == 2
