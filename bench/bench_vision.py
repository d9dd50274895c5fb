"""Vision end to end: full Fashion-MNIST classification, torchloom vs fastai 2.8, side by side in one run.

Both sides read the SAME PNG folders (written once to bench/out/fashion_png from the Debian copy), train the
SAME model (a SmallResNet body + fastai head from identical initial weights, grey 28x28 input) with the same
batch size, augmentation (flip, rotate 5, zoom 1.1, lighting 0.1: one warp per batch on both), optimizer
(Adam, fit_one_cycle at the same lr) and epochs, with progress bars off. Reported: valid accuracy on the
official 10k test set and wall time (data loading + training + validation), and the ratio torchloom/fastai.

    python bench/bench_vision.py                       # full: 60k train / 10k test, 2 epochs
    python bench/bench_vision.py --subset 3000 --epochs 1   # quick check
    python bench/bench_vision.py --only torchloom --no-cache --compile --workers 2   # one lever at a time
    python bench/bench_vision.py --subset 6000 --epochs 3 --rounds 3   # alternating rounds on a busy machine

CPU time (process time) is printed beside wall time: on a shared machine the wall time of two sequential
runs sees different contention, the CPU time much less so.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

OUT = Path(__file__).resolve().parent / "out" / "fashion_png"
CLASSES = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot"]


def write_pngs(root: Path) -> Path:
    """train/<class>/<i>.png (60k) and valid/<class>/<i>.png (10k, the official test set), written once."""
    from PIL import Image
    from torchloom_vision.datasets import fashion_mnist

    done = root / ".complete"
    if done.exists():
        return root
    ds = fashion_mnist()
    t = time.time()
    for split, xs, ys in (("train", ds.x_train, ds.y_train), ("valid", ds.x_test, ds.y_test)):
        for c in CLASSES:
            (root / split / c).mkdir(parents=True, exist_ok=True)
        for i, (x, y) in enumerate(zip(xs, ys)):
            Image.fromarray(x, mode="L").save(root / split / CLASSES[y] / f"{i:05d}.png")
    done.write_text("ok")
    print(f"wrote 70,000 PNGs to {root} in {time.time() - t:.0f} s")
    return root


def subset_files(root: Path, n_train: int | None) -> tuple[list[Path], list[Path]]:
    train = sorted((root / "train").rglob("*.png"))
    valid = sorted((root / "valid").rglob("*.png"))
    if n_train is not None:
        rng = np.random.default_rng(0)
        train = [train[i] for i in sorted(rng.choice(len(train), n_train, replace=False))]
        valid = [valid[i] for i in sorted(rng.choice(len(valid), max(n_train // 6, 500), replace=False))]
    return train, valid


def make_model() -> torch.nn.Module:
    from torchloom_vision.models.small import SmallResNet
    from torchloom_vision.models.vision import create_vision_model

    torch.manual_seed(0)
    return create_vision_model(SmallResNet, n_out=10, n_in=1)


def run_torchloom(files: tuple, init: dict, args: argparse.Namespace) -> tuple[float, float, float]:
    from torchloom_vision import ImageBlock, PILImageBW, SmallResNet, aug_transforms, vision_learner

    from torchloom import CategoryBlock, DataBlock, IndexSplitter, accuracy, parent_label

    train, valid = files
    t0, c0 = time.time(), time.process_time()
    dblock = DataBlock(blocks=(ImageBlock(PILImageBW), CategoryBlock(vocab=sorted(CLASSES))), get_y=parent_label,
                       splitter=IndexSplitter(range(len(train), len(train) + len(valid))),
                       batch_tfms=aug_transforms(max_rotate=5, max_warp=0, max_lighting=0.1)
                       if getattr(args, "aug", True) else None)
    dls = dblock.dataloaders(train + valid, bs=args.bs, num_workers=args.workers, cache=args.cache,
                             persistent_workers=args.workers > 0)
    learn = vision_learner(dls, SmallResNet, metrics=accuracy, progress=False,
                           channels_last=getattr(args, "channels_last", True))
    learn.model.load_state_dict(init)
    if args.compile:
        learn.use("compile")
    timer = EpochTimer()
    learn.fit_one_cycle(args.epochs, args.lr, cbs=[timer, *getattr(args, "extra_cbs", [])])
    acc = float(learn.validate()[1])
    args.epoch_times, args.data_times = timer.times, timer.data
    print("torchloom epochs (wall s / CPU s / CPU s between batches): "
          + ", ".join(f"{w:.1f}/{c:.1f}/{d:.1f}" for (w, c), d in zip(timer.times, timer.data)), flush=True)
    return time.time() - t0, time.process_time() - c0, acc


def EpochTimer() -> object:
    """A callback recording (wall, CPU) seconds per epoch: the first epoch carries one-off costs
    (compilation, first decode), later ones show the steady state that the levers change."""
    from torchloom import Callback

    class _Timer(Callback):
        """Also the CPU time spent between batches (``data``): the loader building the next batch, its
        batch augmentation included -- the most that prefetching in another process or thread could hide."""

        def before_fit(self) -> None:
            self.times: list[tuple[float, float]] = []
            self.data: list[float] = []

        def before_epoch(self) -> None:
            self._t = (time.time(), time.process_time())
            self.data.append(0.0)

        def before_train(self) -> None:
            self._gap = time.process_time()

        before_validate = before_train
        after_batch = before_train

        def before_batch(self) -> None:
            self.data[-1] += time.process_time() - self._gap

        def after_epoch(self) -> None:
            self.times.append((time.time() - self._t[0], time.process_time() - self._t[1]))

    return _Timer()


def run_fastai(files: tuple, init: dict, args: argparse.Namespace) -> tuple[float, float, float]:
    from fastai.callback.progress import ProgressCallback
    from fastai.vision.all import (
        CategoryBlock,
        CrossEntropyLossFlat,
        DataBlock,
        ImageBlock,
        IndexSplitter,
        Learner,
        PILImageBW,
        accuracy,
        aug_transforms,
        parent_label,
    )

    train, valid = files
    t0, c0 = time.time(), time.process_time()
    dblock = DataBlock(blocks=(ImageBlock(PILImageBW), CategoryBlock(vocab=sorted(CLASSES))), get_y=parent_label,
                       splitter=IndexSplitter(list(range(len(train), len(train) + len(valid)))),
                       batch_tfms=aug_transforms(max_rotate=5, max_warp=0, max_lighting=0.1))
    dls = dblock.dataloaders(train + valid, bs=args.bs, num_workers=args.workers, device="cpu")
    model = make_model()
    model.load_state_dict(init)
    learn = Learner(dls, model, loss_func=CrossEntropyLossFlat(), metrics=accuracy)
    learn.remove_cb(ProgressCallback)
    learn.fit_one_cycle(args.epochs, args.lr)
    acc = float(learn.validate()[1])
    return time.time() - t0, time.process_time() - c0, acc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--subset", type=int, default=None, help="train on this many images (default: all 60k)")
    ap.add_argument("--bs", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads for both (1: stable on a shared CPU)")
    ap.add_argument("--cache", action=argparse.BooleanOptionalAction, default=True,
                    help="torchloom: keep decoded images after the first epoch (DataLoader(cache=True))")
    ap.add_argument("--compile", action=argparse.BooleanOptionalAction, default=False,
                    help="torchloom: learn.use('compile') (torch.compile, inductor)")
    ap.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True,
                    help="torchloom: vision_learner(channels_last=...) (the default is True)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run both sides this many times, alternating, and compare medians (a shared machine)")
    ap.add_argument("--only", choices=["torchloom", "fastai"], default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    root = write_pngs(OUT)
    files = subset_files(root, args.subset)
    init = copy.deepcopy(make_model().state_dict())
    print(f"Fashion-MNIST: {len(files[0])} train / {len(files[1])} valid PNGs, SmallResNet+head, bs={args.bs}, "
          f"{args.epochs} epoch(s), lr={args.lr}, threads={args.threads}, workers={args.workers}, "
          f"torchloom cache={args.cache} compile={args.compile}")
    have_fastai = True
    if args.only in (None, "fastai"):
        try:
            import fastai  # noqa: F401
        except ImportError:
            print("fastai not installed: skipped")
            have_fastai = False
    runs: dict[str, list[tuple[float, float, float]]] = {"torchloom": [], "fastai": []}
    for _ in range(args.rounds):  # rounds alternate the sides, so a busy spell on a shared machine hits both
        if args.only in (None, "torchloom"):
            runs["torchloom"].append(run_torchloom(files, init, args))
            print("torchloom: {:7.1f} s wall, {:7.1f} s CPU, accuracy {:.4f}".format(*runs["torchloom"][-1]),
                  flush=True)
        if args.only in (None, "fastai") and have_fastai:
            runs["fastai"].append(run_fastai(files, init, args))
            print("fastai:    {:7.1f} s wall, {:7.1f} s CPU, accuracy {:.4f}".format(*runs["fastai"][-1]), flush=True)
        if torch.get_num_threads() != args.threads:  # both sides must compute with the same thread count
            print(f"WARNING: torch now uses {torch.get_num_threads()} threads, not {args.threads}: the sides differ")
    res = {k: tuple(statistics.median(x[i] for x in v) for i in range(3)) for k, v in runs.items() if v}
    if len(res) == 2:
        (tt, tc, ta), (ft, fc, fa) = res["torchloom"], res["fastai"]
        of = f" (medians of {args.rounds} alternating rounds)" if args.rounds > 1 else ""
        print(f"ratio torchloom/fastai{of}: wall {tt / ft:.2f}x, CPU {tc / fc:.2f}x (target <= 0.6x); accuracy "
              f"difference {100 * (ta - fa):+.2f} pt (target within 0.5 pt, and >= 90%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
