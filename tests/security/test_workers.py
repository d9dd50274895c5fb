"""No hangs: a hung DataLoader worker times out and a killed one is reported, each naming batch, items, worker."""
from __future__ import annotations

import os
import signal
import time

import pytest
import torch

from torchloom import DataLoader
from torchloom.data._workers import DEFAULT_WORKER_TIMEOUT, WorkerError, default_worker_timeout


class Items:
    """Ten items; item ``bad`` hangs or kills its worker process."""

    def __init__(self, bad: int, how: str) -> None:
        self.bad, self.how = bad, how

    def __len__(self) -> int:
        return 10

    def __getitem__(self, i: int):
        if i == self.bad and torch.utils.data.get_worker_info() is not None:
            if self.how == "hang":
                time.sleep(3600)
            os.kill(os.getpid(), signal.SIGKILL)
        return torch.tensor([float(i)])


def test_a_hung_worker_times_out_naming_the_batch_item_and_worker():
    dl = DataLoader(Items(5, "hang"), bs=2, num_workers=2, timeout=2)
    t0 = time.perf_counter()
    with pytest.raises(WorkerError, match=r"timed out: no batch after 2 s while waiting for batch 2 of this epoch "
                                          r"\(dataset items \[4, 5\]\), handled by worker 0 of 2"):
        list(dl)
    assert time.perf_counter() - t0 < 60


def test_a_killed_worker_is_reported_as_such():
    dl = DataLoader(Items(3, "kill"), bs=2, num_workers=2, timeout=30)
    with pytest.raises(WorkerError, match=r"crashed or was killed \(RuntimeError: DataLoader worker \(pid") as ei:
        list(dl)
    assert "batch 1 (items [2, 3])" in str(ei.value)  # the killed item's batch is among those named


def test_errors_of_the_data_itself_are_not_reported_as_crashes():
    class Bad(Items):
        def __getitem__(self, i):
            if i == 4:
                raise FileNotFoundError("no such image: 4.png")
            return torch.tensor([float(i)])

    with pytest.raises(FileNotFoundError, match="4.png") as ei:
        list(DataLoader(Bad(0, ""), bs=2, num_workers=2))
    assert not isinstance(ei.value, WorkerError)


def test_default_timeout_is_configurable(monkeypatch):
    monkeypatch.delenv("TORCHLOOM_WORKER_TIMEOUT", raising=False)
    assert default_worker_timeout() == DEFAULT_WORKER_TIMEOUT == DataLoader(Items(0, ""), bs=2).timeout
    monkeypatch.setenv("TORCHLOOM_WORKER_TIMEOUT", "0")
    assert DataLoader(Items(0, ""), bs=2).timeout == 0
    assert DataLoader(Items(0, ""), bs=2, timeout=7).timeout == 7
    monkeypatch.setenv("TORCHLOOM_WORKER_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="TORCHLOOM_WORKER_TIMEOUT"):
        DataLoader(Items(0, ""), bs=2)
