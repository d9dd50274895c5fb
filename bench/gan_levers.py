"""GAN speed levers, measured on a raw PyTorch DCGAN loop (no framework): process CPU time per iteration.

The loop is the benchmark's (``bench_gan.py``: basic_generator / basic_critic, n_features 16, bs 64,
Adam(0.5, 0.999), 1 critic : 1 generator step, the critic step's fakes from the frozen generator).
Levers: ``channels_last`` weights and images vs the default layout, the critic step's fakes under
``torch.no_grad()`` vs computed with grad mode on (fastai: the generator is frozen, so no graph either
way), and the number of torch threads. Rounds are interleaved; medians are printed.

    python bench/gan_levers.py                 # 100 iterations, 5 rounds, threads 1 and the default
(not a benchmark of torchloom: ``run_all.py`` runs only ``bench_*.py``)
"""
from __future__ import annotations

import argparse
import itertools
import statistics
import time

import torch
import torch.nn.functional as F
from bench_gan import make_batches, ours_models


def run(batches: list, channels_last: bool, no_grad: bool) -> float:
    g, c = ours_models(16, 0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    g, c = g.to(memory_format=fmt), c.to(memory_format=fmt)
    og = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999), eps=1e-5)
    oc = torch.optim.Adam(c.parameters(), 2e-4, betas=(0.5, 0.999), eps=1e-5)

    def freeze(m: torch.nn.Module, frozen: bool) -> None:
        for p in m.parameters():
            p.requires_grad_(not frozen)

    t0 = time.process_time()
    for i, (z, x) in enumerate(batches):
        x = x.contiguous(memory_format=fmt)
        if i % 2 == 0:  # critic step
            freeze(g, True)
            with torch.no_grad() if no_grad else torch.enable_grad():
                fake = g(z)
            r, f = c(x).flatten(), c(fake).flatten()
            loss = (F.binary_cross_entropy_with_logits(r, torch.ones_like(r))
                    + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))) / 2
            loss.backward()
            oc.step()
            oc.zero_grad()
            freeze(g, False)
        else:  # generator step
            freeze(c, True)
            f = c(g(z)).flatten()
            F.binary_cross_entropy_with_logits(f, torch.ones_like(f)).backward()
            og.step()
            og.zero_grad()
            freeze(c, False)
    return (time.process_time() - t0) / len(batches) * 1e3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--iters", type=int, default=100)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, nargs="+", default=[1, torch.get_num_threads()])
    args = p.parse_args()
    batches = make_batches(args.iters, 64, seed=0)
    for threads in dict.fromkeys(args.threads):
        torch.set_num_threads(threads)
        cases = list(itertools.product((False, True), (False, True)))
        for cl, ng in cases:
            run(batches[:4], cl, ng)  # warm-up
        res: dict[tuple[bool, bool], list[float]] = {k: [] for k in cases}
        for _ in range(args.rounds):
            for k in cases:
                res[k].append(run(batches, *k))
        base = statistics.median(res[(False, False)])
        print(f"threads {threads}, {args.iters} iterations, {args.rounds} rounds: median CPU ms per iteration", flush=True)
        for (cl, ng), v in res.items():
            m = statistics.median(v)
            print(f"  channels_last {cl!s:<5}  fakes under no_grad {ng!s:<5}  {m:7.2f} ms  ({base / m:.2f}x)", flush=True)


if __name__ == "__main__":
    main()
