"""A short UCI Adult fit run in one process and under ``torchrun --nproc_per_node 2`` by the tests.

``run(out)`` trains a tabular model (no batch norm and no dropout, so one global batch split over ranks
computes exactly what one process computes) and returns its weights, epoch table and the rows each phase
of the first epoch saw; under torchrun each rank saves that to ``out/result_<rank>.pt``.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch
from torchloom_tabular import (
    Categorify,
    FillMissing,
    Normalize,
    TabularPandas,
    tabular_config,
    tabular_learner,
)

import torchloom
from torchloom import Callback, accuracy, num_distrib, rank_distrib, unwrap_model

GLOBAL_BS = 64
N_TRAIN, N_VALID = 1536, 301  # 301: validation shards of 151 and 150 rows
CATS = ["workclass", "education", "marital-status", "occupation", "relationship", "sex"]
CONTS = ["age", "education-num", "capital-gain", "hours-per-week"]


class SeenRows(Callback):
    """Every row (categorical codes and normalized numbers) of the first epoch, per phase."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[torch.Tensor]] = {"train": [], "valid": []}

    def before_batch(self) -> None:
        if self.learn.epoch == 0:
            cats, conts = self.learn.xb[0], self.learn.xb[1]
            self.rows["train" if self.learn.training else "valid"].append(torch.cat([cats.float(), conts], 1))


def run(out: Path) -> dict[str, Any]:
    torch.manual_seed(0)
    df, tr, te = torchloom.load_dataset("adult").combined()
    splits = (list(tr[:N_TRAIN]), list(te[:N_VALID]))
    to = TabularPandas(df, [Categorify, FillMissing, Normalize], CATS, CONTS, "salary", splits=splits)
    dls = to.dataloaders(bs=GLOBAL_BS // num_distrib(), seed=0, device="cpu")  # bs is per process
    learn = tabular_learner(dls, layers=[32, 16], config=tabular_config(use_bn=False, bn_cont=False),
                            metrics=accuracy, progress=False, path=out)
    learn.logger = lambda *a: None
    seen = SeenRows()
    learn.fit_one_cycle(2, 1e-2, cbs=[seen])
    return {"world": num_distrib(), "values": learn.recorder.values,
            "weights": {k: v.detach().clone() for k, v in unwrap_model(learn.model).state_dict().items()},
            "rows": {k: torch.cat(v) for k, v in seen.rows.items()}}


if __name__ == "__main__":
    torch.set_num_threads(1)
    res = run(Path(sys.argv[1]))
    torch.save(res, Path(sys.argv[1]) / f"result_{rank_distrib()}.pt")
