"""Demo: train an image classifier on the bundled Fashion-MNIST sample, export it, reload it and predict.

    python -m torchloom_vision.demo [--epochs 6] [--out DIR] [--threads 1]

Trains a ``SmallResNet`` from scratch (grey 28x28 images, 1,000 train / 300 valid PNGs, batch augmentation
on the whole batch), prints the metrics, exports the learner, then ``load_learner`` + ``predict`` on a PNG file.
"""
from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import torch

from torchloom import accuracy, load_learner

from .augment import aug_transforms
from .core import PILImageBW
from .data import ImageDataLoaders
from .datasets import fashion_sample_path
from .learner import vision_learner
from .models.small import SmallResNet


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m torchloom_vision.demo", description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=6, help="training epochs (default 6)")
    ap.add_argument("--lr", type=float, default=1e-2, help="peak learning rate of the one-cycle schedule")
    ap.add_argument("--out", type=Path, default=None, help="folder for the exported model (default: a temp dir)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (default 1: this small model gains nothing from more, and on a "
                         "shared machine extra threads oversubscribe the cores)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)

    path = fashion_sample_path()
    print(f"Data: bundled Fashion-MNIST sample in {path}")
    dls = ImageDataLoaders.from_folder(path, img_cls=PILImageBW, bs=32, seed=args.seed,
                                       batch_tfms=aug_transforms(max_rotate=5, max_warp=0.0, max_lighting=0.1))
    print(f"  {len(dls.train_ds)} training and {len(dls.valid_ds)} validation images, classes: "
          f"{', '.join(dls.vocab)}")
    learn = vision_learner(dls, SmallResNet, metrics=accuracy)
    print(f"Training a SmallResNet from scratch for {args.epochs} epochs (fit_one_cycle, lr={args.lr})")
    t0 = time.time()
    learn.fit_one_cycle(args.epochs, args.lr)
    loss, acc = learn.validate()
    print(f"Done in {time.time() - t0:.0f} s: valid loss {float(loss):.3f}, accuracy {float(acc):.1%} "
          f"(chance: 10%)")

    out = args.out if args.out is not None else Path(tempfile.mkdtemp(prefix="torchloom-demo-"))
    out.mkdir(parents=True, exist_ok=True)
    learn.path = out
    learn.export("fashion_classifier")
    exported = sorted(p.name for p in out.iterdir())
    print(f"Exported to {out}: {', '.join(exported)}")

    fn = sorted((path / "valid" / "Sneaker").glob("*.png"))[0]
    loaded = load_learner(out / "fashion_classifier")
    _, idx, probs = loaded.predict(fn)
    label = loaded.dls.vocab[int(idx)]
    print(f"load_learner + predict({fn.name}): {label} (p={float(probs[int(idx)]):.2f}; true label: Sneaker)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
