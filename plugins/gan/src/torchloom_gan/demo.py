"""``python -m torchloom_gan.demo``: train a DCGAN on Fashion-MNIST on the CPU, write a sample grid and its score.

Writes ``samples.png`` (an 8x8 grid of generated images) and ``score.json`` (Fréchet distance and class
coverage from the quality classifier, for the trained and the untrained generator) into ``--out``.
"""
from __future__ import annotations

import argparse
import json
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import Tensor


def save_grid(images: Tensor, path: Path, nrow: int = 8, scale: int = 3) -> Path:
    """Write images in [0, 1] of shape (n, 1, h, w) as one PNG grid (2-pixel white gaps)."""
    from PIL import Image

    n, _, h, w = images.shape
    ncol = min(nrow, n)
    nrows = (n + ncol - 1) // ncol
    grid = np.ones((nrows * (h + 2) + 2, ncol * (w + 2) + 2), dtype=np.uint8) * 255
    arr = (images[:, 0].clamp(0, 1).numpy() * 255).round().astype(np.uint8)
    for i in range(n):
        r, c = divmod(i, ncol)
        grid[2 + r * (h + 2):2 + r * (h + 2) + h, 2 + c * (w + 2):2 + c * (w + 2) + w] = arr[i]
    img = Image.fromarray(grid, mode="L").resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def main(argv: list[str] | None = None) -> int:
    from torchloom import Adam

    from .data import fashion_gan_dls
    from .learner import GANLearner, sample
    from .models import basic_critic, basic_generator
    from .quality import QualityScorer

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=2, help="passes over --n-train images (default 2)")
    p.add_argument("--n-train", type=int, default=12800, help="training images (default 12,800)")
    p.add_argument("--bs", type=int, default=64)
    p.add_argument("--features", type=int, default=32, help="n_features of the generator and critic")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--out", type=Path, default=Path("gan-demo"))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    torch.manual_seed(args.seed)
    dls = fashion_gan_dls(bs=args.bs, n_train=args.n_train, seed=args.seed)
    gen, crit = basic_generator(32, 1, n_features=args.features), basic_critic(32, 1, n_features=args.features)
    scorer = QualityScorer()
    before = scorer.score_generator(gen, n=2000)
    learn = GANLearner.bce(dls, gen, crit, opt_func=partial(Adam, mom=0.5, sqr_mom=0.999), progress=True)
    t = time.time()
    learn.fit(args.epochs, args.lr, wd=0.0)
    seconds = time.time() - t
    after = scorer.score_generator(learn.model.generator, n=2000)
    grid = save_grid((sample(learn.model.generator, 64, seed=args.seed) + 1) / 2, args.out / "samples.png")
    report = {"trained": after.as_dict(), "untrained": before.as_dict(), "train_seconds": round(seconds, 1),
              "iterations": args.epochs * len(dls.train), "classifier_accuracy": scorer.accuracy}
    (args.out / "score.json").write_text(json.dumps(report, indent=2))
    print(f"untrained generator: {before}")
    print(f"trained generator:   {after}")
    print(f"wrote {grid} and {args.out / 'score.json'} ({seconds:.0f} s of training)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
