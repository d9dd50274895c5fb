"""LAMB optimizer step time on a ResNet18-shaped parameter list (62 tensors, ~11.7M params).

Also runs the same 62 tensors at 1/16 width, where per-step Python overhead dominates.
Compares, in one run: torchloom-lamb's Lamb (vectorised foreach path and per-parameter path) and
fastai 2.8's Lamb (per-parameter loop, per-tensor host syncs for the trust ratio). torch has no LAMB.
Prints median ms per step and ratios, then checks that all three give the same weights.
usage: python bench/bench_lamb.py [--steps N] [--rounds R] [--threads T]
"""
from __future__ import annotations

import argparse
import time

import torch
from _common import make_params, median_step_ms, print_optimizer_case
from torchloom_lamb import Lamb


def fastai_lamb():
    try:
        from fastai.optimizer import Lamb as FastaiLamb  # benchmark only
    except ImportError:
        return None
    return FastaiLamb


def bench(width: int, steps: int, rounds: int) -> None:
    print_optimizer_case(width, steps, rounds)
    makers = {
        "torchloom Lamb (foreach)": lambda ps: Lamb(ps, lr=1e-3, foreach=True),
        "torchloom Lamb (per-param)": lambda ps: Lamb(ps, lr=1e-3, foreach=False),
    }
    fl = fastai_lamb()
    if fl is not None:
        makers["fastai 2.8 Lamb"] = lambda ps: fl(ps, lr=1e-3)
    med = median_step_ms(makers, width, steps, rounds, clock=time.perf_counter)
    ours = med["torchloom Lamb (foreach)"]
    print(f"{'optimizer':30s} {'ms/step':>9s} {'vs ours':>9s}")
    for name, m in med.items():
        print(f"{name:30s} {m:9.2f} {m / ours:8.2f}x")
    if fl is None:
        print(f"{'fastai 2.8 Lamb':30s} fastai not installed: skipped")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--small-steps", type=int, default=50, help="steps for the small (overhead-bound) case")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    bench(64, args.steps, args.rounds)   # the real ResNet18: memory-bound
    bench(4, args.small_steps, args.rounds)  # same 62 tensors, tiny: Python overhead dominates

    a, b = make_params(width=8), make_params(width=8)
    oa, ob = Lamb(a, lr=1e-2, foreach=True), Lamb(b, lr=1e-2, foreach=False)
    fl = fastai_lamb()
    c = make_params(width=8) if fl is not None else None
    oc = fl(c, lr=1e-2) if fl is not None else None
    for _ in range(3):
        oa.step()
        ob.step()
        if oc is not None:
            oc.step()
    print("\nforeach == per-param weights:", all(torch.allclose(x, y, rtol=1e-5, atol=1e-7) for x, y in zip(a, b)))
    if c is not None:
        print("torchloom == fastai weights:", all(torch.allclose(x, y, rtol=1e-5, atol=1e-7) for x, y in zip(a, c)))


if __name__ == "__main__":
    main()
