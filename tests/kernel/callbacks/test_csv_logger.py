"""``learn.use("csv_logger")``: one row per epoch, matching the Recorder; resumes and appends safely."""
from __future__ import annotations

import csv

import pytest

from torchloom import Callback, CancelFitException, accuracy
from torchloom.testing import synth_learner


def _learn(tmp_path, **kw):
    return synth_learner(task="classification", metrics=accuracy, path=tmp_path, **kw)


def test_rows_match_the_recorder(tmp_path):
    learn = _learn(tmp_path).use("csv_logger")
    learn.fit(3)
    with open(tmp_path / "history.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "train_loss", "valid_loss", "accuracy", "time"]
    assert [int(r[0]) for r in rows[1:]] == [0, 1, 2]
    got = learn.csv_logger.read()
    for row, rec in zip(got, learn.recorder.values):
        assert [row["train_loss"], row["valid_loss"], row["accuracy"]] == pytest.approx(rec)
    assert got[-1]["accuracy"] > 0.8  # the blobs are separable: the run really trained


def test_a_new_fit_starts_a_new_file_unless_append(tmp_path):
    learn = _learn(tmp_path).use("csv_logger")
    learn.fit(2)
    learn.fit(1)
    assert [r["epoch"] for r in learn.csv_logger.read()] == [0]
    learn.use("csv_logger", append=True)
    learn.fit(2)
    assert [r["epoch"] for r in learn.csv_logger.read()] == [0, 0, 1]


def test_lr_find_and_inference_are_not_logged(tmp_path):
    learn = _learn(tmp_path, n_train=320).use("csv_logger", append=True)
    learn.lr_find(num_it=20)
    learn.get_preds()
    learn.validate()
    assert not (tmp_path / "history.csv").exists()
    with learn.no_logging():  # silences the printed table, not the file
        learn.fit(1)
    assert [r["epoch"] for r in learn.csv_logger.read()] == [0]


class StopAfter(Callback):
    order = 80  # after the checkpoint is written

    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch

    def after_epoch(self) -> None:
        if self.learn.epoch == self.epoch:
            raise CancelFitException()


def test_resumed_fit_continues_the_same_file(tmp_path):
    learn = _learn(tmp_path).use("csv_logger").use("checkpoint")
    learn.fit(4, cbs=StopAfter(1))  # epochs 0, 1, a checkpoint after each, then the run "dies"
    first = learn.csv_logger.read()
    # a crash after epoch 2 leaves a row the checkpoint does not cover; the resumed run replaces it
    with open(tmp_path / "history.csv", "a", newline="") as f:
        csv.writer(f).writerow([2, 9.0, 9.0, 0.0, "00:00"])
    again = _learn(tmp_path).use("csv_logger").use("checkpoint")
    again.fit(4, resume="checkpoint")
    rows = again.csv_logger.read()
    assert [r["epoch"] for r in rows] == [0, 1, 2, 3]
    assert rows[:2] == first and rows[2]["train_loss"] != 9.0


def test_appending_to_a_file_with_other_columns_is_refused_before_training(tmp_path):
    (tmp_path / "history.csv").write_text("epoch,train_loss,valid_loss,time\n0,1.0,1.0,00:00\n")
    learn = _learn(tmp_path).use("csv_logger", append=True)
    with pytest.raises(ValueError, match=r"history\.csv.*columns"):
        learn.fit(1)
    assert (tmp_path / "history.csv").read_text().count("\n") == 2  # untouched
    assert learn.recorder.values == []  # nothing trained
