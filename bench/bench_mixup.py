"""Cost of MixUp per training batch: torchloom-mixup vs a hand-written MixUp in a raw loop (and fastai 2.8).

All loops train the same MLP (same initial weights, torch.optim.Adam) on the same pre-built CPU
batches; one epoch = N training batches + N/10 validation batches. MixUp everywhere is the same
algorithm: per-sample lam = max(l, 1-l), l ~ Beta(0.4, 0.4), a random permutation, inputs lerped,
per-sample losses lerped then averaged. Rounds are interleaved; medians of process CPU time per batch.
"mixup cost" = configuration with MixUp minus the same configuration without it.
usage: python bench/bench_mixup.py [--batches 200] [--rounds 5] [--threads 1] [--bs 64]
"""
from __future__ import annotations

import argparse
import copy
import statistics
import warnings
from collections.abc import Callable
from functools import partial

import torch
from _common import ListDL, ListDLs, interleaved_times, make_batches, quiet_fit
from torch import nn
from torch.distributions import Beta


def raw_epoch(model, opt, train, valid, mixup: bool) -> None:
    distrib = Beta(torch.tensor(0.4), torch.tensor(0.4))
    model.train()
    for xb, yb in train:
        if mixup:
            lam = distrib.sample((xb.shape[0],))
            lam = torch.maximum(lam, 1 - lam)
            perm = torch.randperm(xb.shape[0])
            pred = model(torch.lerp(xb[perm], xb, lam[:, None]))
            loss = torch.lerp(nn.functional.cross_entropy(pred, yb[perm], reduction="none"),
                              nn.functional.cross_entropy(pred, yb, reduction="none"), lam).mean()
        else:
            loss = nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    with torch.no_grad():
        for xb, yb in valid:
            nn.functional.cross_entropy(model(xb), yb)


def setup_raw(base, train, valid, mixup):
    model = copy.deepcopy(base)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    return lambda: raw_epoch(model, opt, train, valid, mixup)


def setup_torchloom(base, train, valid, mixup):
    from torchloom import Learner, OptimWrapper

    learn = Learner(ListDLs(train, valid), copy.deepcopy(base), nn.CrossEntropyLoss(),
                    opt_func=partial(OptimWrapper, opt=torch.optim.Adam), lr=1e-3, progress=False,
                    use=["mixup"] if mixup else None)
    learn.logger = lambda *a: None
    return lambda: learn.fit(1)


def setup_fastai(base, train, valid, mixup):
    from fastai.callback.mixup import MixUp
    from fastai.callback.progress import ProgressCallback
    from fastai.data.core import DataLoaders
    from fastai.learner import Learner
    from fastai.losses import CrossEntropyLossFlat
    from fastai.optimizer import OptimWrapper

    learn = Learner(DataLoaders(ListDL(train), ListDL(valid)), copy.deepcopy(base), CrossEntropyLossFlat(),
                    opt_func=partial(OptimWrapper, opt=torch.optim.Adam), lr=1e-3, cbs=[MixUp(0.4)] if mixup else None)
    learn.remove_cb(ProgressCallback)
    learn.logger = lambda *a: None
    return quiet_fit(learn)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--bs", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=128)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    n_in, n_out = 64, 10
    train = make_batches(args.batches, args.bs, n_in, n_out, seed=1)
    valid = make_batches(max(args.batches // 10, 1), args.bs, n_in, n_out, seed=2)
    torch.manual_seed(0)
    base = nn.Sequential(nn.Linear(n_in, args.hidden), nn.ReLU(), nn.Linear(args.hidden, n_out))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); MLP {n_in}-{args.hidden}-{n_out}, "
          f"bs {args.bs}; {len(train)} train + {len(valid)} valid batches; {args.rounds} rounds, CPU ms/batch")
    pairs: dict[str, tuple[Callable[[], None], Callable[[], None]]] = {
        "raw loop (hand-written MixUp)": (setup_raw(base, train, valid, False), setup_raw(base, train, valid, True)),
        "torchloom + use('mixup')": (setup_torchloom(base, train, valid, False),
                                      setup_torchloom(base, train, valid, True)),
    }
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pairs["fastai 2.8 + MixUp()"] = (setup_fastai(base, train, valid, False),
                                             setup_fastai(base, train, valid, True))
        fastai_note = None
    except ImportError:
        fastai_note = "fastai not installed: skipped"
    n_total = len(train) + len(valid)
    runs = {(k, m): fn for k, fns in pairs.items() for m, fn in enumerate(fns)}
    (times,) = interleaved_times(runs, args.rounds, n_total)
    med = {k: statistics.median(v) for k, v in times.items()}
    raw_mix = med[("raw loop (hand-written MixUp)", 1)]
    raw_cost = raw_mix - med[("raw loop (hand-written MixUp)", 0)]
    print(f"{'':32s} {'no mixup':>9s} {'mixup':>9s} {'vs raw+mixup':>13s} {'mixup cost':>12s} {'vs raw cost':>12s}")
    for k in pairs:
        plain, mixed = med[(k, 0)], med[(k, 1)]
        cost = mixed - plain
        print(f"{k:32s} {plain:9.4f} {mixed:9.4f} {mixed / raw_mix:12.2f}x {cost * 1e3:+9.1f} us "
              f"{cost / raw_cost:11.2f}x")
    if fastai_note:
        print(fastai_note)


if __name__ == "__main__":
    main()
