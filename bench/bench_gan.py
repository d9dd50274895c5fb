"""GAN: a Fashion-MNIST DCGAN, torchloom-gan vs fastai 2.8, side by side in one run.

Both sides train on the SAME pre-built batches (Fashion-MNIST training images padded to 32x32 in [-1, 1],
with the same noise vectors), the SAME architecture (basic_generator / basic_critic, LeakyReLU 0.2 in the
critic) from the SAME initial weights (ours loaded into fastai's models, strict), the same loss
(non-saturating BCE), switcher (FixedGANSwitcher(1, 1)), batch size, iterations, optimizer (Adam, mom 0.5,
sqr_mom 0.999, wd 0) and learning rate, with progress bars off. Reported: Fréchet distance and class
coverage by torchloom-gan's quality classifier (2,000 samples from the same noise), wall and CPU time of
the training, and the ratios torchloom/fastai. torchloom's two optimizers step as fastai's single one
(``bench/gan_step_check.py`` checks it weight by weight); torchloom keeps the weights in channels_last.

    python bench/bench_gan.py            # 600 iterations, n_features 16, seeds 0-3, 2 interleaved rounds each
    python bench/bench_gan.py --iters 200 --rounds 1 --threads 1   # quick check (FID spread over 4 seeds)
"""
from __future__ import annotations

import argparse
import contextlib
import io
import time
from functools import partial
from typing import Any

import numpy as np
import torch
from _common import ListDLs


def make_batches(n: int, bs: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    from torchloom import load_dataset

    ds = load_dataset("fashion-mnist")
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(ds.x_train), n * bs, replace=False)
    x = torch.from_numpy(np.array(ds.x_train[idx])).float().div_(127.5).sub_(1.0)[:, None]
    x = torch.nn.functional.pad(x, (2, 2, 2, 2), value=-1.0)
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(bs, 100, generator=g), x[i * bs:(i + 1) * bs].contiguous()) for i in range(n)]


def ours_models(nf: int, seed: int) -> tuple[torch.nn.Module, torch.nn.Module]:
    from torchloom_gan import basic_critic, basic_generator

    torch.manual_seed(seed)
    return basic_generator(32, 1, n_features=nf), basic_critic(32, 1, n_features=nf)


def run_torchloom(batches: list, valid: list, init: tuple, nf: int, lr: float,
                  **gan_kwargs: Any) -> tuple[torch.nn.Module, float, float]:
    from torchloom_gan import FixedGANSwitcher, GANLearner, bce_crit_loss, bce_gen_loss

    from torchloom import Adam

    g, c = ours_models(nf, 0)
    g.load_state_dict(init[0])
    c.load_state_dict(init[1])
    learn = GANLearner(ListDLs(batches, valid), g, c, bce_gen_loss, bce_crit_loss, switcher=FixedGANSwitcher(1, 1),
                       switch_eval=False, opt_func=partial(Adam, mom=0.5, sqr_mom=0.999), progress=False, **gan_kwargs)
    t0, c0 = time.perf_counter(), time.process_time()
    with learn.no_logging():
        learn.fit(1, lr, wd=0.0)
    return g, time.perf_counter() - t0, time.process_time() - c0


def run_fastai(batches: list, valid: list, init: tuple, nf: int, lr: float) -> tuple[torch.nn.Module, float, float]:
    from fastai.callback.progress import ProgressCallback
    from fastai.optimizer import Adam as FAdam
    from fastai.vision.gan import FixedGANSwitcher as FSwitcher
    from fastai.vision.gan import GANLearner as FGANLearner
    from fastai.vision.gan import basic_critic as fcritic
    from fastai.vision.gan import basic_generator as fgenerator
    from torchloom_gan import bce_crit_loss, bce_gen_loss

    g = fgenerator(32, n_channels=1, n_features=nf)
    c = fcritic(32, n_channels=1, n_features=nf, act_cls=partial(torch.nn.LeakyReLU, negative_slope=0.2))
    g.load_state_dict(init[0], strict=True)
    c.load_state_dict(init[1], strict=True)
    learn = FGANLearner(ListDLs(batches, valid), g, c, bce_gen_loss, bce_crit_loss, switcher=FSwitcher(1, 1),
                        switch_eval=False, opt_func=partial(FAdam, mom=0.5, sqr_mom=0.999))
    learn.remove_cb(ProgressCallback)
    t0, c0 = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        learn.fit(1, lr, wd=0.0)
    return g, time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--iters", type=int, default=600)
    p.add_argument("--bs", type=int, default=64)
    p.add_argument("--features", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds per seed (ours, fastai, fastai, ours...)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3], help="data/noise/initial-weights seeds")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--no-channels-last", action="store_true", help="torchloom: keep the default memory layout")
    p.add_argument("--frozen-untouched", choices=["no", "also", "only"], default="no",
                   help="torchloom with momentum_on_frozen=False (the frozen network does not move): not at all, as a "
                        "third contender, or instead of the default")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from torchloom_gan import QualityScorer, sample

    scorer = QualityScorer()
    ours = partial(run_torchloom, channels_last=not args.no_channels_last)
    untouched = partial(ours, momentum_on_frozen=False)
    runs = {"torchloom": untouched if args.frozen_untouched == "only" else ours, "fastai": run_fastai}
    if args.frozen_untouched == "also":
        runs["tl-untouched"] = untouched
    print(f"GAN bench: Fashion-MNIST 32x32, bs {args.bs}, {args.iters} iterations (1 critic : 1 generator), "
          f"n_features {args.features}, Adam(0.5, 0.999) lr {args.lr}, torch threads {torch.get_num_threads()}, "
          f"seeds {args.seeds}, torchloom channels_last {not args.no_channels_last}, frozen untouched "
          f"{args.frozen_untouched}; "
          f"classifier accuracy {scorer.accuracy:.4f}")
    res: dict[str, list[tuple[float, float, float, float]]] = {k: [] for k in runs}
    for seed in args.seeds:
        batches = make_batches(args.iters, args.bs, seed=seed)
        valid = make_batches(2, args.bs, seed=1000 + seed)
        g0, c0 = ours_models(args.features, seed)
        init = (g0.state_dict(), c0.state_dict())
        untrained = scorer.score(sample(g0, 2000, seed=0))
        print(f"seed {seed}: untrained generator FID {untrained.fid:.2f}, coverage {untrained.coverage:.0%}")
        for r in range(args.rounds):
            order = list(runs) if r % 2 == 0 else list(reversed(list(runs)))
            for name in order:
                gen, wall, cpu = runs[name](batches, valid, init, args.features, args.lr)
                s = scorer.score(sample(gen, 2000, seed=0))
                res[name].append((wall, cpu, s.fid, s.coverage))
                print(f"  seed {seed} round {r} {name:<13} wall {wall:7.1f} s  cpu {cpu:7.1f} s  FID {s.fid:7.2f}  "
                      f"coverage {s.coverage:.0%}  classes {s.class_counts}", flush=True)
    a = {k: np.array(v) for k, v in res.items()}
    for k, v in a.items():
        print(f"{k:<13}: median wall {np.median(v[:, 0]):.1f} s, cpu {np.median(v[:, 1]):.1f} s; "
              f"FID mean {v[:, 2].mean():.2f} ± {v[:, 2].std(ddof=1) if len(v) > 1 else 0:.2f} (sd, n={len(v)}), "
              f"min {v[:, 2].min():.2f} max {v[:, 2].max():.2f}; coverage mean {v[:, 3].mean():.0%}")
    t, f = a["torchloom"], a["fastai"]
    paired = t[:, 2] - f[:, 2]
    print(f"ratio torchloom/fastai (medians): wall {np.median(t[:, 0]) / np.median(f[:, 0]):.2f}x, "
          f"cpu {np.median(t[:, 1]) / np.median(f[:, 1]):.2f}x (target <= 0.8x); FID torchloom - fastai, paired by "
          f"seed/round: mean {paired.mean():+.2f}, range [{paired.min():+.2f}, {paired.max():+.2f}] "
          f"({'no worse' if paired.mean() <= 0 else 'WORSE'} on average)")


if __name__ == "__main__":
    main()
