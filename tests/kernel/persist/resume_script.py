"""Run by test_persist_resume.py in a subprocess: a tiny one-cycle run with shuffling and dropout.

usage: python resume_script.py DIR full|kill K|resume

The training loader is the kernel's DataLoader, shuffled with a seed (it reshuffles with seed + epoch,
so its epoch counter must survive the resume); dropout draws from torch's global RNG.
"""
from __future__ import annotations

import random
import sys
import time

import numpy as np
import torch
from torch import nn

from torchloom._persist.safe import save_file
from torchloom.callbacks._base import Callback
from torchloom.callbacks._checkpoint import Checkpoint
from torchloom.callbacks._training import GradientAccumulation
from torchloom.data._dataloader import DataLoader
from torchloom.data._dataloaders import DataLoaders
from torchloom.testing import synth_learner

N_EPOCH = 4


class _WaitForKill(Callback):
    """After the checkpoint of epoch K is written, tell the parent and wait to be SIGKILLed."""

    order = 80

    def __init__(self, k: int):
        super().__init__()
        self.k = k

    def after_epoch(self) -> None:
        if self.learn.epoch == self.k:
            print(f"checkpoint-written {self.k}", flush=True)
            time.sleep(120)


def main() -> None:
    path, mode = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    learn = synth_learner(task="classification", n_train=96, n_valid=32, bs=16, path=path, seed=3)
    train, valid = learn.dls.train_ds, learn.dls.valid_ds
    learn.dls = DataLoaders(DataLoader(list(zip(*train)), bs=16, shuffle=True, seed=5),
                            DataLoader(list(zip(*valid)), bs=16))
    torch.manual_seed(1)
    learn.model = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.3), nn.ReLU(), nn.Linear(16, 3))
    torch.manual_seed(123 if mode == "resume" else 7)  # the resumed process starts from another RNG state
    cbs = [Checkpoint(), GradientAccumulation(n_acc=40)]
    if mode == "kill":
        cbs.append(_WaitForKill(int(sys.argv[3])))
    learn.fit_one_cycle(N_EPOCH, 1e-2, cbs=cbs, resume="checkpoint" if mode == "resume" else None)
    save_file(f"{path}/final_{mode}.safetensors", {"model": learn.model.state_dict()})
    print("done", flush=True)


if __name__ == "__main__":
    main()
