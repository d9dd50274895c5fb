"""Optimizer step time on a ResNet18-shaped parameter list (62 tensors, ~11.7M params).

Also runs the same 62 tensors at 1/16 width, where per-step Python overhead dominates.
Compares, in one run: torchloom Adam (vectorised foreach path and per-parameter path),
torch.optim.AdamW (foreach=True) and fastai 2.8's Adam. Prints median ms per step and ratios.
Timing is process CPU time with one thread by default, so other jobs on a shared machine distort it
less than wall time. usage: python bench/bench_optim.py [--steps N] [--rounds R] [--threads T]
"""
from __future__ import annotations

import argparse

import torch
from _common import make_params, median_step_ms, print_optimizer_case

from torchloom import Adam


def bench(width: int, steps: int, rounds: int) -> None:
    print_optimizer_case(width, steps, rounds)
    makers = {
        "torch.optim.AdamW(foreach=True)": lambda ps: torch.optim.AdamW(
            ps, lr=1e-3, betas=(0.9, 0.99), eps=1e-5, weight_decay=0.01, foreach=True),
        "torchloom Adam (foreach)": lambda ps: Adam(ps, lr=1e-3, foreach=True),
        "torchloom Adam (per-param)": lambda ps: Adam(ps, lr=1e-3, foreach=False),
    }
    try:
        from fastai.optimizer import Adam as FastaiAdam  # benchmark only

        makers["fastai 2.8 Adam"] = lambda ps: FastaiAdam(ps, lr=1e-3)
    except ImportError:
        print("fastai not installed: skipped")
    med = median_step_ms(makers, width, steps, rounds)
    base, ours = med["torch.optim.AdamW(foreach=True)"], med["torchloom Adam (foreach)"]
    print(f"{'optimizer':36s} {'ms/step':>9s} {'vs torch':>9s} {'vs ours':>9s}")
    for name, m in med.items():
        print(f"{name:36s} {m:9.2f} {m / base:8.2f}x {m / ours:8.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--small-steps", type=int, default=200, help="steps for the small (overhead-bound) case")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (CPU time is summed over them)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); process CPU time per step")
    bench(64, args.steps, args.rounds)  # the real ResNet18: memory-bound
    bench(4, args.small_steps, args.rounds)  # same 62 tensors, tiny: Python overhead dominates

    # sanity: the foreach and per-param paths produce identical weights
    a, b = make_params(), make_params()
    oa, ob = Adam(a, lr=1e-3, foreach=True), Adam(b, lr=1e-3, foreach=False)
    for _ in range(3):
        oa.step()
        ob.step()
    print("\nforeach == per-param weights:", all(torch.equal(x, y) for x, y in zip(a, b)))


if __name__ == "__main__":
    main()
