"""Deployment: TTA accuracy on the bundled Fashion-MNIST sample, and batch-inference throughput of the
portable exports (torchloom predict) against the learner's own get_preds, side by side in one run.

    .tox/vision/bin/python bench/bench_deploy.py            # 4 seeds, 3000 items
    .tox/vision/bin/python bench/bench_deploy.py --seeds 1 --items 600

TTA: a SmallResNet trained 3 epochs (bs 32, aug_transforms(max_warp=0, p_lighting=0.5)) per seed; validation
accuracy of get_preds vs tta(n=4) and tta(n=8) (beta 0.25) on the 300 validation images.
Throughput: the 300 validation PNGs listed in a CSV until ``--items`` rows, predicted by (a) get_preds on a
test_dl of the same files, (b) predict_files with the .pt2 export, (c) with the .onnx export (ONNX Runtime,
when installed). Interleaved rounds; median wall time and process CPU time; one torch thread.
"""
from __future__ import annotations

import argparse
import csv
import random
import statistics
import tempfile
import time
from pathlib import Path

import torch


def train(seed: int):
    from torchloom_vision import (
        ImageDataLoaders,
        PILImageBW,
        SmallResNet,
        aug_transforms,
        fashion_sample_path,
        vision_learner,
    )

    from torchloom import accuracy

    torch.manual_seed(seed)
    random.seed(seed)
    dls = ImageDataLoaders.from_folder(fashion_sample_path(), img_cls=PILImageBW, bs=32, seed=seed,
                                       batch_tfms=aug_transforms(max_warp=0, p_lighting=0.5))
    learn = vision_learner(dls, SmallResNet, metrics=accuracy, progress=False)
    learn.logger = lambda *a, **k: None
    learn.fit_one_cycle(3, 1e-2)
    return learn


def acc(preds, targs) -> float:
    return (preds.argmax(1) == targs).float().mean().item()


def nll(preds, targs) -> float:
    return torch.nn.functional.nll_loss(preds.clamp_min(1e-8).log(), targs).item()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--items", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print("TTA on the bundled sample (300 validation images), SmallResNet 3 epochs, beta=0.25")
    print(f"{'seed':>4}  {'plain':>7}  {'tta n=4':>7}  {'tta n=8':>7}  {'NLL plain':>9}  {'NLL n=4':>7}  "
          f"{'tta n=4 s':>9}")
    rows, learn = [], None
    for seed in range(args.seeds):
        learn = train(seed)
        p, t = learn.get_preds()
        torch.manual_seed(100 + seed)
        t0 = time.perf_counter()
        p4, _ = learn.tta(n=4)
        dt = time.perf_counter() - t0
        p8, _ = learn.tta(n=8)
        rows.append((acc(p, t), acc(p4, t), acc(p8, t), nll(p, t), nll(p4, t)))
        r = rows[-1]
        print(f"{seed:>4}  {r[0]:>7.4f}  {r[1]:>7.4f}  {r[2]:>7.4f}  {r[3]:>9.4f}  {r[4]:>7.4f}  {dt:>9.2f}")
    m = [statistics.mean(c) for c in zip(*rows)]
    print(f"mean  {m[0]:>7.4f}  {m[1]:>7.4f}  {m[2]:>7.4f}  {m[3]:>9.4f}  {m[4]:>7.4f}")

    from torchloom_vision import fashion_sample_path

    from torchloom import predict_files

    files = sorted((fashion_sample_path() / "valid").rglob("*.png"))
    items = [files[i % len(files)] for i in range(args.items)]
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        with open(d / "list.csv", "w", newline="") as f:
            csv.writer(f).writerows([["file"]] + [[str(p)] for p in items])
        runs = {"learner get_preds": lambda: learn.get_preds(dl=learn.dls.test_dl(items, bs=64))}
        pt2 = learn.export(d / "m", format="torch.export")
        runs["predict .pt2"] = lambda: predict_files(pt2, [d / "list.csv"], out=d / "a.csv", batch_size=64,
                                                     progress=False)
        try:
            import onnxruntime  # noqa: F401
            import onnxscript  # noqa: F401

            onnx = learn.export(d / "m", format="onnx")
            runs["predict .onnx"] = lambda: predict_files(onnx, [d / "list.csv"], out=d / "b.csv", batch_size=64,
                                                          progress=False)
        except ImportError:
            print("(onnxruntime/onnxscript not installed: no ONNX row)")
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in runs}
        for _ in range(args.rounds):
            for k, fn in runs.items():
                w, c = time.perf_counter(), time.process_time()
                fn()
                times[k].append((time.perf_counter() - w, time.process_time() - c))
    print(f"\nbatch inference, {args.items} items, batch 64, median of {args.rounds} interleaved rounds "
          "(torch: 1 thread; ONNX Runtime: its default threads)")
    base = statistics.median(w for w, _ in times["learner get_preds"])
    for k, ts in times.items():
        w, c = statistics.median(x for x, _ in ts), statistics.median(y for _, y in ts)
        print(f"{k:<18} {args.items / w:>8.0f} items/s wall  ({w:.2f} s wall, {c:.2f} s CPU, {w / base:.2f}x "
              "get_preds wall)")


if __name__ == "__main__":
    main()
