"""Cost of the default ``fit_guard`` callback (gradient clearing, first-batch output check, NaN scan).

The same Learner (trivial model Linear(8, 2), bs 8, 400 train + 40 valid pre-built batches, torch Adam
through OptimWrapper) fits one epoch with and without ``fit_guard``, rounds interleaved (order alternating);
the median process CPU time per batch is reported. The guard handles no per-batch event after the first
batch, so the two should agree within noise.
usage: python bench/bench_guard.py [--rounds 25] [--batches 400]
"""
from __future__ import annotations

import argparse
import copy
import statistics
import time
from functools import partial

import torch
from _common import ListDLs, make_batches
from torch import nn

from torchloom import Learner, OptimWrapper


def _learner(train: list, valid: list, base: nn.Module, guard: bool) -> Learner:
    learn = Learner(ListDLs(train, valid), copy.deepcopy(base), nn.CrossEntropyLoss(),
                    opt_func=partial(OptimWrapper, opt=torch.optim.Adam), progress=False)
    learn.logger = lambda *a: None
    if not guard:
        learn.remove_cb(learn.fit_guard)
    return learn


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=25)
    p.add_argument("--batches", type=int, default=400)
    args = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    train, valid = make_batches(args.batches, 8, 8, 2, 0), make_batches(args.batches // 10, 8, 8, 2, 1)
    base = nn.Linear(8, 2)
    learners = {g: _learner(train, valid, base, g) for g in (False, True)}
    for learn in learners.values():
        learn.fit(1)  # warm up
    per_batch: dict[bool, list[float]] = {False: [], True: []}
    n = len(train) + len(valid)
    for r in range(args.rounds):
        for g in ((False, True) if r % 2 == 0 else (True, False)):
            t0 = time.process_time()
            learners[g].fit(1)
            per_batch[g].append((time.process_time() - t0) / n * 1e6)
    off, on = statistics.median(per_batch[False]), statistics.median(per_batch[True])
    print(f"torch {torch.__version__}, 1 thread; {args.batches} + {args.batches // 10} batches, {args.rounds} "
          "interleaved rounds, median process CPU time per batch")
    print(f"  without fit_guard  {off:8.1f} us/batch")
    print(f"  with fit_guard     {on:8.1f} us/batch   ({on / off:.3f}x, {on - off:+.1f} us)")


if __name__ == "__main__":
    main()
