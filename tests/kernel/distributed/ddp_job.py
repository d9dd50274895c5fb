"""A small training job run both in one process and under ``torchrun --nproc_per_node 2`` by the tests.

``run(out, mode)`` trains a tiny MLP on synthetic blobs with the kernel DataLoader and returns what a
user would look at (weights, epoch table, predictions); under torchrun each rank saves that to
``out/result_<rank>.pt`` and records every file it opened for writing below ``out/learn``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from torchloom import (
    AccumMetric,
    Callback,
    DataLoader,
    DataLoaders,
    F1Score,
    GradientAccumulation,
    Learner,
    accuracy,
)
from torchloom._distributed.env import is_distributed, local_rank, rank, world_size

GLOBAL_BS = 16
N_TRAIN, N_VALID = 64, 37  # 37: validation shards of 19 and 18 items


class Pairs:
    """(x, y) items from two tensors."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]


def device() -> torch.device | None:
    """``DDP_JOB_DEVICE=cuda`` runs the job on the GPU (ranks share GPUs round-robin)."""
    if os.environ.get("DDP_JOB_DEVICE") == "cuda":
        return torch.device("cuda", local_rank() % torch.cuda.device_count())
    return None


def make_dls() -> DataLoaders:
    g = torch.Generator().manual_seed(0)
    n = N_TRAIN + N_VALID
    centers = torch.randn(3, 4, generator=g) * 2
    y = torch.randint(0, 3, (n,), generator=g)
    x = centers[y] + torch.randn(n, 4, generator=g)
    bs = GLOBAL_BS // world_size()  # bs is per process
    train = DataLoader(Pairs(x[:N_TRAIN], y[:N_TRAIN]), bs=bs, shuffle=True, seed=1)
    valid = DataLoader(Pairs(x[N_TRAIN:], y[N_TRAIN:]), bs=bs)
    return DataLoaders(train, valid, device=device())


def make_learner(path: Path) -> Learner:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    learn = Learner(make_dls(), model, loss_func=nn.CrossEntropyLoss(), lr=1e-2, path=path, progress=False,
                    metrics=[accuracy, F1Score(average="macro")])
    for name in filter(None, os.environ.get("DDP_JOB_USE", "").split(",")):  # plugins, e.g. "bf16,ema"
        learn.use(name)
    return learn


class SaveAt(Callback):
    """Write a resumable checkpoint after one epoch (every rank calls it; rank 0 writes)."""

    order = 80

    def __init__(self, epoch: int, fname: str) -> None:
        super().__init__()
        self.at, self.fname = epoch, fname

    def after_epoch(self) -> None:
        if self.learn.epoch == self.at:
            self.learn.save_checkpoint(self.fname, epoch=self.at)


class Explode(Callback):
    """Raise on rank 1 at the third training batch."""

    def after_batch(self) -> None:
        if rank() == 1 and self.learn.training and self.learn.iter == 2:
            raise ValueError("rank one exploded on purpose")


def _share_right(preds: torch.Tensor, targs: torch.Tensor) -> torch.Tensor:
    return (preds == targs).float().mean()


def _weights(learn: Learner) -> dict[str, torch.Tensor]:
    from torchloom import unwrap_model

    return {k: v.detach().clone() for k, v in unwrap_model(learn.model).state_dict().items()}


def run(out: Path, mode: str = "main", resume_from: str | None = None) -> dict[str, Any]:
    learn_path = out / "learn"
    res: dict[str, Any] = {"world": world_size()}
    tag = "ddp" if world_size() > 1 else "single"
    if mode == "plugins":  # a short run with the plugins named in DDP_JOB_USE
        learn = make_learner(learn_path)
        learn.fit_one_cycle(2)
        res["weights"], res["values"] = _weights(learn), learn.recorder.values
        res["plugins"] = sorted(learn.plugins_used)
        precision = getattr(learn, "fp16", None)
        res["loss_scale"] = getattr(precision, "loss_scale", None)
        return res
    if mode == "compile":  # use("compile") (aot_eager) with use("ddp"), switched on in both orders
        for first in ("ddp", "compile"):
            learn = make_learner(learn_path)
            learn.unuse("ddp")  # on by itself under torchrun; off in one process anyway
            for name in (first, "compile" if first == "ddp" else "ddp"):
                learn.use(name, **({"backend": "aot_eager"} if name == "compile" else {}))
            learn.fit_one_cycle(2)
            res[first] = {"weights": _weights(learn), "values": learn.recorder.values,
                          "compiled": (learn.compile.compiled, learn.compile.failed)}
        return res
    if mode == "explode":
        learn = make_learner(learn_path)
        learn.fit(2, cbs=[Explode()])
        return res
    finder = make_learner(learn_path)
    res["lr_find"] = tuple(finder.lr_find(num_it=12))
    res["lr_find_losses"] = list(finder.lr_finder.losses)
    learn = make_learner(learn_path)
    learn.fit_one_cycle(3, cbs=[SaveAt(1, f"{tag}_mid")])
    res["distributed"] = is_distributed()
    res["backend"] = torch.distributed.get_backend() if is_distributed() else None
    res["weights"] = _weights(learn)
    res["values"] = learn.recorder.values
    res["losses"] = learn.recorder.losses
    res["preds"], res["targs"] = learn.get_preds()
    res["validate"] = learn.validate()
    learn.metrics = [AccumMetric(_share_right, dim_argmax=-1, name="share_right")]  # gathered, not averaged
    res["accum"] = learn.validate()
    learn.save("final")
    if resume_from is not None:  # continue the other mode's checkpoint to the end of the same schedule
        again = make_learner(learn_path)
        again.fit_one_cycle(3, resume=resume_from)
        res["resumed"] = _weights(again)
    ga = make_learner(learn_path)  # gradient accumulation over two batches (no_sync on the first)
    ga.fit(1, cbs=[GradientAccumulation(n_acc=2 * GLOBAL_BS // world_size())])
    res["ga"] = _weights(ga)
    return res


def _main() -> None:
    out, mode = Path(sys.argv[1]), sys.argv[2]
    resume_from = sys.argv[3] if len(sys.argv) > 3 else None
    learn_dir = str((out / "learn").resolve())
    writes: list[str] = []

    def audit(event: str, args: tuple) -> None:
        if event == "open" and isinstance(args[0], (str, os.PathLike)) and (
                any(c in str(args[1] or "") for c in "wax+") or (args[2] or 0) & (os.O_WRONLY | os.O_RDWR)):
            p = os.path.abspath(os.fspath(args[0]))
            if p.startswith(learn_dir):
                writes.append(p)

    sys.addaudithook(audit)
    res = run(out, mode, resume_from)
    res["writes"] = writes
    torch.save(res, out / f"result_{rank()}.pt")


if __name__ == "__main__":
    _main()
