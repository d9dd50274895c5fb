"""A short language-model fit on Rotten Tomatoes run in one process and under ``torchrun --nproc_per_node 2``.

``run(out)`` builds LM loaders with ``bs`` rows per process (``GLOBAL_BS // world``), records the first
epoch's training batches, fits a tiny AWD-LSTM without dropout (so the ranks together compute what one
process on the global batch computes) and returns its weights and epoch table; under torchrun each
rank saves that to ``out/result_<rank>.pt``.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch
from torchloom_text import TextDataLoaders, language_model_learner, rotten_tomatoes

from torchloom import Callback, num_distrib, rank_distrib, unwrap_model

GLOBAL_BS, SEQ_LEN = 16, 20
TINY = dict(emb_sz=16, n_hid=24, n_layers=2)


class FirstEpochBatches(Callback):
    """The inputs of every training batch of the first epoch, and how many batches each phase has."""

    def __init__(self) -> None:
        super().__init__()
        self.xs: list[torch.Tensor] = []
        self.n_batches: list[int] = []

    def before_train(self) -> None:
        self.n_batches.append(len(self.learn.dl))

    def before_validate(self) -> None:
        self.n_batches.append(len(self.learn.dl))

    def before_batch(self) -> None:
        if self.learn.epoch == 0 and self.learn.training:
            self.xs.append(self.learn.xb[0].as_subclass(torch.Tensor).clone())


def run(out: Path) -> dict[str, Any]:
    df = rotten_tomatoes().sample(600, random_state=0).reset_index(drop=True)
    dls = TextDataLoaders.from_df(df, text_col="text", is_lm=True, valid_pct=0.2, seed=0,
                                  bs=GLOBAL_BS // num_distrib(), seq_len=SEQ_LEN, n_workers=1, device="cpu")
    dls.train.seed = 1  # the same document order in both runs (under DDP an unseeded loader gets a shared seed)
    torch.manual_seed(0)
    learn = language_model_learner(dls, config=TINY, drop_mult=0.0, path=out, progress=False)
    learn.logger = lambda *a: None
    seen = FirstEpochBatches()
    learn.fit_one_cycle(2, 1e-2, cbs=[seen])
    preds, targs = learn.get_preds()
    return {"world": num_distrib(), "values": learn.recorder.values, "batches": seen.xs,
            "n_batches": seen.n_batches, "preds": preds, "targs": targs,
            "weights": {k: v.detach().clone() for k, v in unwrap_model(learn.model).state_dict().items()}}


if __name__ == "__main__":
    torch.set_num_threads(1)
    res = run(Path(sys.argv[1]))
    torch.save(res, Path(sys.argv[1]) / f"result_{rank_distrib()}.pt")
