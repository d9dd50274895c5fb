"""Batch augmentation throughput: torchloom's single-warp batch transforms vs torchvision ``transforms.v2`` per item.

Same work on both sides: random horizontal flip (p=0.5), rotation (+-10 deg), zoom (1-1.1), perspective warp
(0.2) and brightness/contrast (0.2), on float images. torchloom draws per-image parameters and applies them to
the whole batch with one ``grid_sample`` + one lighting pass; torchvision v2 is applied image by image (how a
per-item pipeline uses it). Prints images/s and the ratio.

    python bench/bench_augment.py [--size 64] [--n 2048] [--bs 64] [--threads 1]
"""
from __future__ import annotations

import argparse
import sys
import time

import torch


def bench(fn, n_images: int, repeat: int = 3) -> float:
    fn()  # warm up
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return n_images / best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--bs", type=int, default=64)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    from torchloom_vision import TensorImage, aug_transforms

    imgs = torch.rand(args.n, args.channels, args.size, args.size)
    tfms = aug_transforms()  # fastai defaults: flip, rotate 10, zoom 1.1, warp 0.2, lighting 0.2, p=0.75
    batches = [TensorImage(b) for b in imgs.split(args.bs)]

    def ours() -> None:
        for b in batches:
            x = b
            for t in tfms:
                x = t(x, split_idx=0)

    from torchvision.transforms import v2

    tv = v2.Compose([
        v2.RandomHorizontalFlip(0.5),
        v2.RandomApply([v2.RandomAffine(degrees=10, scale=(1.0, 1.1))], p=0.75),
        v2.RandomPerspective(distortion_scale=0.2, p=0.75),
        v2.RandomApply([v2.ColorJitter(brightness=0.2, contrast=0.2)], p=0.75),
    ])

    def torchvision_per_item() -> None:
        for i in range(args.n):
            tv(imgs[i])

    r_ours = bench(ours, args.n)
    r_tv = bench(torchvision_per_item, args.n)
    print(f"{args.n} images {args.channels}x{args.size}x{args.size}, batch {args.bs}, threads {args.threads}")
    print(f"torchloom batch augmentation (one warp per batch): {r_ours:10.0f} images/s")
    print(f"torchvision transforms.v2, per item:               {r_tv:10.0f} images/s")
    print(f"speed-up: {r_ours / r_tv:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
