"""Cost of torchloom-ema per training step, side by side in one run.

Columns (same model, same pre-built batches, SGD, CPU):
  raw            a plain PyTorch loop
  raw+ema(loop)  the same loop with the textbook per-parameter EMA update (p by p)
  raw+ema(fe)    the same loop with a foreach EMA update (what the plugin does)
  learner        torchloom Learner, bars and logging off
  learner+ema    the same Learner with learn.use("ema")
fastai 2.8 has no EMA callback (fastxtend has one), so there is no fastai column.

Run: python bench/bench_ema.py [--hidden 256] [--layers 4] [--batches 50] [--repeats 5] [--threads 1]
"""
from __future__ import annotations

import argparse
import statistics
import time
from types import SimpleNamespace

import torch
from torch import nn


def make_model(hidden: int, layers: int) -> nn.Module:
    mods: list[nn.Module] = [nn.Linear(32, hidden), nn.ReLU()]
    for _ in range(layers - 1):
        mods += [nn.Linear(hidden, hidden), nn.ReLU()]
    return nn.Sequential(*mods, nn.Linear(hidden, 1))


def raw_loop(model: nn.Module, batches: list, ema: str | None, decay: float = 0.999) -> float:
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    params = list(model.parameters())
    avg = [p.detach().clone() for p in params]
    loss_fn = nn.MSELoss()
    model.train()
    start = time.perf_counter()
    for xb, yb in batches:
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        opt.zero_grad()
        if ema == "loop":
            with torch.no_grad():
                for a, p in zip(avg, params):
                    a.mul_(decay).add_(p, alpha=1 - decay)
        elif ema == "foreach":
            with torch.no_grad():
                torch._foreach_mul_(avg, decay)
                torch._foreach_add_(avg, params, alpha=1 - decay)
    return time.perf_counter() - start


def learner_loop(model: nn.Module, batches: list, use_ema: bool) -> float:
    from torchloom import Learner

    dls = SimpleNamespace(train=batches, valid=[], device=None)
    learn = Learner(dls, model, loss_func=nn.MSELoss(), lr=1e-3, opt_func="sgd")
    learn.remove_cbs([c for c in learn.cbs if c.name == "progress"])
    if use_ema:
        learn.use("ema", decay=0.999)
    with learn.no_logging():
        learn.fit(1)  # warm-up: builds the optimizer, imports everything
        start = time.perf_counter()
        learn.fit(1)
        return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--batches", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: steadier on a shared machine)")
    ap.add_argument("--bs", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    batches = [(torch.randn(args.bs, 32), torch.randn(args.bs, 1)) for _ in range(args.batches)]
    n_params = sum(p.numel() for p in make_model(args.hidden, args.layers).parameters())
    runs = {
        "raw": lambda m: raw_loop(m, batches, None),
        "raw+ema(loop)": lambda m: raw_loop(m, batches, "loop"),
        "raw+ema(fe)": lambda m: raw_loop(m, batches, "foreach"),
        "learner": lambda m: learner_loop(m, batches, False),
        "learner+ema": lambda m: learner_loop(m, batches, True),
    }
    from torchloom import get_registry

    if "ema" not in get_registry().names("callback"):
        print("torchloom-ema not installed (pip install -e contrib/ema): learner+ema column skipped")
        del runs["learner+ema"]
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(args.repeats):  # interleaved, so machine noise hits every column alike
        for k, fn in runs.items():
            times[k].append(fn(make_model(args.hidden, args.layers)))
    med = {k: statistics.median(v) for k, v in times.items()}
    per_step = {k: 1e3 * v / args.batches for k, v in med.items()}
    print(f"model: {args.layers}x{args.hidden} MLP, {n_params / 1e6:.2f} M params, {args.batches} batches of "
          f"{args.bs}, median of {args.repeats}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    for k in runs:
        print(f"  {k:<14} {per_step[k]:7.3f} ms/step   {med[k] / med['raw']:5.2f}x raw")
    print(f"EMA update cost per step: foreach {per_step['raw+ema(fe)'] - per_step['raw']:.3f} ms, "
          f"per-parameter loop {per_step['raw+ema(loop)'] - per_step['raw']:.3f} ms")
    if "learner+ema" in med:
        print(f"learner+ema / learner: {med['learner+ema'] / med['learner']:.3f}x;  "
              f"learner+ema / raw+ema(fe): {med['learner+ema'] / med['raw+ema(fe)']:.3f}x")
    print("fastai: no EMA callback in fastai 2.8: skipped")


if __name__ == "__main__":
    main()
