"""Kill-and-resume: a run SIGKILLed after epoch k and resumed ends with the same weights."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from torchloom._persist.safe import load_file

SCRIPT = str(Path(__file__).with_name("resume_script.py"))


def _run(*args: str) -> str:
    out = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _run_in_process(*args: str) -> None:
    """The uninterrupted reference run needs no separate process (it is deterministic on CPU)."""
    import random
    import runpy
    from unittest import mock

    import numpy as np

    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        with mock.patch.object(sys, "argv", [SCRIPT, *args]), torch.random.fork_rng():
            runpy.run_path(SCRIPT, run_name="__main__")
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)


def test_killed_run_resumes_to_identical_weights(tmp_path):
    full, killed = tmp_path / "full", tmp_path / "killed"
    _run_in_process(str(full), "full")
    proc = subprocess.Popen([sys.executable, SCRIPT, str(killed), "kill", "1"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "checkpoint-written 1", proc.stderr.read() if not line else line
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not (killed / "final_kill.safetensors").exists()
    ckpt, meta = load_file(killed / "models" / "checkpoint.safetensors")
    assert meta["kind"] == "checkpoint" and meta["epoch"] == 1
    _run(str(killed), "resume")
    a, _ = load_file(full / "final_full.safetensors")
    b, _ = load_file(killed / "final_resume.safetensors")
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    # and the checkpoint really mattered: epoch-1 weights differ from the final ones
    assert not torch.equal(ckpt["model"]["0.weight"], a["model"]["0.weight"])


def _loader_learner(tmp_path, kind):
    from torchloom.data._dataloader import DataLoader
    from torchloom.data._dataloaders import DataLoaders
    from torchloom.testing import synth_learner

    torch.manual_seed(0)
    learn = synth_learner(task="classification", n_train=48, n_valid=16, bs=16, path=tmp_path, seed=3)
    torch.manual_seed(1)
    learn.model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.3), torch.nn.Linear(8, 3))
    if kind != "synth":  # else SynthDataLoaders: shuffles with its own torch.Generator
        tr, va = learn.dls.train_ds, learn.dls.valid_ds
        learn.dls = DataLoaders(DataLoader(list(zip(*tr)), bs=16, shuffle=True, seed=5 if kind == "seeded" else None),
                                DataLoader(list(zip(*va)), bs=16))
    return learn


@pytest.mark.parametrize("kind", ["synth", "seeded", "global_rng"])
def test_in_process_resume_matches_for_each_loader_kind(tmp_path, kind):
    import shutil

    from torchloom.callbacks._base import FuncCallback
    from torchloom.callbacks._checkpoint import Checkpoint

    def keep_epoch1(cb):
        if cb.epoch == 1:
            shutil.copy(tmp_path / "models" / "ck.safetensors", tmp_path / "models" / "ck1.safetensors")

    ref = _loader_learner(tmp_path, kind)
    ref.fit_one_cycle(3, 1e-2, cbs=[Checkpoint(fname="ck"), FuncCallback(order=80, after_epoch=keep_epoch1)])
    torch.manual_seed(999)  # a different RNG state before resuming
    res = _loader_learner(tmp_path, kind)
    torch.manual_seed(555)
    res.fit_one_cycle(3, 1e-2, resume="ck1")
    for a, b in zip(ref.model.parameters(), res.model.parameters()):
        assert torch.equal(a, b)
