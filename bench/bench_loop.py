"""Training-loop overhead per batch: torchloom's Learner vs a raw PyTorch loop (and fastai 2.8).

All loops train the same tiny MLP (same initial weights) with the same torch.optim.Adam on the same
pre-built CPU batches, one epoch = N training batches + N/10 validation batches (no_grad, eval mode).
torchloom runs with its default callbacks (train/eval, cast-to-tensor, recorder), the progress bar
off and on (bars rendered into a buffer in terminal mode); also with torchloom's own Adam.
fastai 2.8 runs its Learner on the same batches and model, bars off and on.
Rounds are interleaved; the median per-batch time of each configuration is reported with its ratio to
raw, as process CPU time (robust on a shared machine: with one thread, time spent waiting for a core
is not counted) and as wall-clock time.
A second table uses a trivial model (Linear(8, 2), bs 8) so that the framework's own per-batch
cost dominates (that is where fastai's 3.7x was measured).
A third table is a whole short fit as a new user writes it: MLP 32-64-2, bs 64, 32 training batches and
one validation batch per epoch, 3 epochs, plain ``torch.optim.SGD`` passed as ``opt_func`` (and the
kernel's own SGD), against the same three epochs written as a raw loop; the unit is one ``fit(3)``.
``OptimWrapper`` clears gradients directly instead of through ``torch.optim.Optimizer.zero_grad``
(same effect, without its profiler set-up); a third row keeps torch's ``zero_grad`` so that the
Learner's own overhead shows alone.
usage: python bench/bench_loop.py [--batches 200] [--rounds 7] [--threads 1] [--hidden 128]
"""
from __future__ import annotations

import argparse
import copy
import io
import statistics
import time
import warnings
from collections.abc import Callable
from functools import partial

import torch
from _common import ListDL, ListDLs, interleaved_times, make_batches, quiet_call, quiet_fit
from torch import nn


def make_model(n_in: int, hidden: int, n_out: int) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, n_out))


# -- the loops ------------------------------------------------------------------------------------

def raw_epoch(model: nn.Module, opt: torch.optim.Optimizer, loss_fn: nn.Module, train: list, valid: list) -> None:
    model.train()
    for xb, yb in train:
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    with torch.no_grad():
        for xb, yb in valid:
            loss_fn(model(xb), yb)


def setup_raw(base: nn.Module, train: list, valid: list) -> Callable[[], None]:
    model = copy.deepcopy(base)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    return lambda: raw_epoch(model, opt, loss_fn, train, valid)


def setup_torchloom(base: nn.Module, train: list, valid: list, progress: bool, own_adam: bool) -> Callable[[], None]:
    from torchloom import Adam, Learner, OptimWrapper, ProgressCallback

    opt_func = Adam if own_adam else partial(OptimWrapper, opt=torch.optim.Adam)
    learn = Learner(ListDLs(train, valid), copy.deepcopy(base), nn.CrossEntropyLoss(), opt_func=opt_func,
                    lr=1e-3, progress=False)
    if progress:
        learn.add_cb(ProgressCallback(mode="terminal", stream=io.StringIO()))
    else:
        learn.logger = lambda *a: None
    return lambda: learn.fit(1)


def setup_fastai(base: nn.Module, train: list, valid: list, progress: bool) -> Callable[[], None]:
    from fastai.callback.progress import ProgressCallback  # registers fastai's default progress bar
    from fastai.data.core import DataLoaders
    from fastai.learner import Learner
    from fastai.optimizer import OptimWrapper

    dls = DataLoaders(ListDL(train), ListDL(valid))
    learn = Learner(dls, copy.deepcopy(base), nn.CrossEntropyLoss(), opt_func=partial(OptimWrapper, opt=torch.optim.Adam),
                    lr=1e-3)
    if not progress:
        learn.remove_cb(ProgressCallback)
        learn.logger = lambda *a: None
    return quiet_fit(learn)


def run_suite(title: str, base: nn.Module, train: list, valid: list, rounds: int) -> None:
    n_total = len(train) + len(valid)
    print(f"\n{title}: {len(train)} train + {len(valid)} valid pre-built batches per epoch; "
          f"{rounds} interleaved rounds, median per batch")
    configs: dict[str, Callable[[], None]] = {
        "raw PyTorch loop (torch Adam)": setup_raw(base, train, valid),
        "torchloom, default cbs, bar off (torch Adam)": setup_torchloom(base, train, valid, False, False),
        "torchloom, default cbs, bar on (torch Adam)": setup_torchloom(base, train, valid, True, False),
        "torchloom, default cbs, bar off (torchloom Adam)": setup_torchloom(base, train, valid, False, True),
    }
    fastai_note = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            configs["fastai 2.8, bar off (torch Adam)"] = setup_fastai(base, train, valid, False)
            configs["fastai 2.8, bar on (torch Adam)"] = setup_fastai(base, train, valid, True)
    except ImportError:
        fastai_note = "fastai not installed: skipped"

    # the warm-up run of each config covers allocations, lazy imports, optimizer state
    times, walls = interleaved_times(configs, rounds, n_total, clocks=(time.process_time, time.perf_counter))

    key = "raw PyTorch loop (torch Adam)"
    raw, raw_wall = statistics.median(times[key]), statistics.median(walls[key])
    width = max(len(k) for k in configs)
    print(f"{'':<{width}}  {'CPU ms/batch':>12}  {'vs raw':>6}  {'overhead':>10}  {'wall ms/batch':>13}  {'vs raw':>6}")
    for name in configs:
        med, wall = statistics.median(times[name]), statistics.median(walls[name])
        print(f"{name:<{width}}  {med:12.4f}  {med / raw:5.2f}x  {(med - raw) * 1e3:+7.1f} us  "
              f"{wall:13.4f}  {wall / raw_wall:5.2f}x")
    if fastai_note:
        print(fastai_note)


def raw_fit(model: nn.Module, opt: torch.optim.Optimizer, loss_fn: nn.Module, train: list, valid: list,
            n_epoch: int) -> None:
    for _ in range(n_epoch):
        raw_epoch(model, opt, loss_fn, train, valid)


def run_new_user_case(rounds: int) -> None:
    """``Learner(dls, model, loss, opt_func=torch.optim.SGD).fit(3)`` vs three raw epochs (ms per fit)."""
    from torchloom import SGD, Learner

    n_epoch = 3
    train = make_batches(32, 64, 32, 2, seed=5)
    valid = make_batches(1, 64, 32, 2, seed=6)
    base = make_model_small()
    model = copy.deepcopy(base)
    raw_opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    # the raw loop runs under the same stdout/stderr redirection as the learners (same harness cost)
    configs: dict[str, Callable[[], None]] = {
        "raw PyTorch loop (torch SGD)": quiet_call(lambda: raw_fit(model, raw_opt, loss_fn, train, valid, n_epoch))}
    for name, opt_func in (("torchloom, opt_func=torch.optim.SGD", torch.optim.SGD),
                           ("torchloom, opt_func=SGD (kernel's)", SGD),
                           ("torchloom, torch.optim.SGD, torch's zero_grad", TorchZeroGradSGD)):
        learn = Learner(ListDLs(train, valid), copy.deepcopy(base), nn.CrossEntropyLoss(), opt_func=opt_func,
                        lr=0.1, progress=False)
        configs[name] = quiet_fit(learn, n_epoch)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from fastai.callback.progress import ProgressCallback as FastaiProgress
            from fastai.data.core import DataLoaders
            from fastai.learner import Learner as FastaiLearner
            from fastai.optimizer import OptimWrapper

            f = FastaiLearner(DataLoaders(ListDL(train), ListDL(valid)), copy.deepcopy(base), nn.CrossEntropyLoss(),
                              opt_func=partial(OptimWrapper, opt=torch.optim.SGD), lr=0.1)
            f.remove_cb(FastaiProgress)
            configs["fastai 2.8, opt_func=OptimWrapper(torch SGD)"] = quiet_fit(f, n_epoch)
    except ImportError:
        pass
    print(f"\nnew-user fit: MLP 32-64-2, bs 64, 32 train + 1 valid batches per epoch, {n_epoch} epochs, progress "
          f"bar off, epoch table printed (to a buffer); {rounds} interleaved rounds, median ms per fit({n_epoch})")
    times, walls = interleaved_times(configs, rounds, 1, clocks=(time.process_time, time.perf_counter))
    key = "raw PyTorch loop (torch SGD)"
    raw, raw_wall = statistics.median(times[key]), statistics.median(walls[key])
    width = max(len(k) for k in configs)
    print(f"{'':<{width}}  {'CPU ms/fit':>10}  {'vs raw':>6}  {'wall ms/fit':>11}  {'vs raw':>6}")
    for name in configs:
        med, wall = statistics.median(times[name]), statistics.median(walls[name])
        print(f"{name:<{width}}  {med:10.3f}  {med / raw:5.2f}x  {wall:11.3f}  {wall / raw_wall:5.2f}x")


class TorchZeroGradSGD(torch.optim.SGD):
    """``torch.optim.SGD`` with ``zero_grad`` overridden (by itself): ``OptimWrapper`` then calls torch's own
    ``zero_grad`` as the raw loop does, instead of clearing the gradients directly. The fit then pays exactly
    the raw loop's optimizer calls, so its ratio is the Learner's own overhead (plus one Python frame a batch)."""

    def zero_grad(self, set_to_none: bool = True) -> None:
        super().zero_grad(set_to_none=set_to_none)


def make_model_small() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 2))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--bs", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=128)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); CPU time = process time (with one "
          f"thread, waiting for a core on a shared machine is not counted)")
    n_in, n_out = 64, 10
    train = make_batches(args.batches, args.bs, n_in, n_out, seed=1)
    valid = make_batches(max(args.batches // 10, 1), args.bs, n_in, n_out, seed=2)
    run_suite(f"tiny MLP {n_in}-{args.hidden}-{args.hidden}-{n_out}, bs {args.bs}",
              make_model(n_in, args.hidden, n_out), train, valid, args.rounds)
    # a trivial model makes the loop itself dominate: the overhead column is the per-batch cost of the framework
    train = make_batches(args.batches * 2, 8, 8, 2, seed=3)
    valid = make_batches(max(args.batches // 5, 1), 8, 8, 2, seed=4)
    torch.manual_seed(0)
    run_suite("trivial model Linear(8, 2), bs 8", nn.Linear(8, 2), train, valid, args.rounds)
    run_new_user_case(max(args.rounds * 3, 21))


if __name__ == "__main__":
    main()
