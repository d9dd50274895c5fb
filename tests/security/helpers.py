"""A genuine export to tamper with: a small MLP, a real data pipeline, the kernel's own loss."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from torchloom import (
    Categorize,
    CrossEntropyLossFlat,
    DataLoaders,
    Datasets,
    Learner,
    Transform,
    model_factory,
)
from torchloom._persist.safe import load_file, save_file


class GetFeats(Transform):
    def encodes(self, item: tuple):
        return torch.tensor(item[0], dtype=torch.float32)


class GetLabel(Transform):
    def encodes(self, item: tuple):
        return item[1]


@model_factory
def mlp(n_in: int = 4, n_out: int = 2, hidden: int = 8) -> nn.Module:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out))


def real_dls() -> tuple[DataLoaders, list]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(60, 4, generator=g)
    items = [(row.tolist(), "pos" if row[0] > 0 else "neg") for row in x]
    dsets = Datasets(items, tfms=[[GetFeats()], [GetLabel(), Categorize()]],
                     splits=(list(range(45)), list(range(45, 60))))
    return DataLoaders.from_dsets(dsets.train, dsets.valid, bs=16), items


def make_learner(path: Path, **kw: Any) -> Learner:
    dls, _ = real_dls()
    torch.manual_seed(0)
    spec = {"factory": f"{__name__}:mlp", "kwargs": {"n_in": 4, "n_out": 2, "hidden": 8}}
    learn = Learner(dls, mlp(4, 2, 8), loss_func=CrossEntropyLossFlat(), path=path, model_spec=spec,
                    progress=False, **kw)
    learn.logger = lambda *a: None
    return learn


def make_export(path: Path) -> Path:
    learn = make_learner(path)
    learn.fit(1, lr=1e-2)
    return learn.export()


def tamper(src: Path, dst: Path, edit: Callable[[dict, dict], Any]) -> Path:
    """Copy ``src`` to ``dst`` after ``edit(obj, meta)`` changed its content (an attacker's file)."""
    obj, meta = load_file(src)
    edit(obj, meta)
    save_file(dst, obj, meta=meta)
    return dst


def write_marker_free(path: Path) -> None:
    """The payload's marker file must not exist."""
    assert not path.exists(), f"payload ran: {path.read_text()}"
