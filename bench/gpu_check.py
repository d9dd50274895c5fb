"""One-GPU check of the accelerator path: every GPU test, then a short vision benchmark, then a summary.

Needs only what ``pip install --no-deps --no-build-isolation ./core ./plugins/*`` installs beside
torch (no fastai, no network, no dataset download): the benchmark trains on synthetic 28x28 grey
images with ten class prototypes, so accuracy is a sanity check and the figures are throughput.

    python bench/gpu_check.py                 # about 3-6 minutes on one H100/H200
    python bench/gpu_check.py --skip-tests    # benchmark only
    python bench/gpu_check.py --json out.json # also write the summary as JSON

Sections are independent: a failing or missing part (e.g. pillow absent for the vision tests) is
reported in the summary and the rest still runs. Exit status 1 when a test failed.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
SUITES = [  # (name, pytest arguments): the tests that exercise CUDA, plus the 2-process DDP tests
    ("kernel accelerator (CUDA; DDP on CUDA with gloo, and with NCCL given 2 GPUs)",
     ["tests/kernel/accel", "tests/kernel/callbacks/test_compile.py", "tests/kernel/data/test_loader_cache.py"]),
    ("kernel DDP (2 ranks, gloo/CPU)", ["tests/kernel/distributed"]),
    ("vision augmentation on device", ["tests/vision/test_augment_geometry.py"]),
    ("fp16/bf16 plugin", ["tests/fp16"]),
]


def run_suites(timeout: float) -> list[dict[str, Any]]:
    try:
        import pytest  # noqa: F401
    except ImportError:
        return run_suites_without_pytest()
    rows = []
    n_gpu = torch.cuda.device_count()
    nccl = "runs" if n_gpu >= 2 else "is skipped: NCCL needs one GPU per rank, 2 GPUs"
    print(f"[tests] {n_gpu} GPU(s): the NCCL DDP test {nccl}", flush=True)
    for name, args in SUITES:
        if not all((ROOT / a).exists() for a in args):
            rows.append({"suite": name, "result": "missing", "seconds": 0.0})
            continue
        t = time.time()
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfEs", *args]
        try:
            p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
            out = p.stdout + p.stderr
            summary = next((ln.strip("= ") for ln in reversed(out.splitlines())
                            if re.search(r"\d+ (passed|failed|skipped|error)", ln)), f"exit {p.returncode}")
            ok = p.returncode == 0
            if not ok:
                print(f"--- {name} ---\n{out[-4000:]}", flush=True)
        except subprocess.TimeoutExpired:
            summary, ok = f"timed out after {timeout:.0f} s", False
        rows.append({"suite": name, "result": summary, "ok": ok, "seconds": round(time.time() - t, 1)})
        print(f"[tests] {name}: {summary} ({time.time() - t:.0f} s)", flush=True)
    return rows


def run_suites_without_pytest() -> list[dict[str, Any]]:
    """No pytest on this machine: run the kernel's CUDA tests with the stand-in runner, report the rest."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.path.insert(0, str(ROOT))  # as pytest's ``pythonpath``: helpers import as ``tests.<folder>.<module>``
    from _minitest import install_stub, run_file

    install_stub()
    rows = []
    for name, args in SUITES:
        if name.startswith("kernel accelerator"):
            t = time.time()
            p = f = s = 0
            for path in sorted((ROOT / args[0]).glob("test_*.py")):
                a, b, c, reports = run_file(path)
                p, f, s = p + a, f + b, s + c
                for r in reports:
                    print(r, flush=True)
            rows.append({"suite": name + " [no pytest: stand-in runner]", "result": f"{p} passed, {f} failed, "
                         f"{s} skipped", "ok": f == 0, "seconds": round(time.time() - t, 1)})
        else:
            rows.append({"suite": name, "result": "not run: pytest is not installed here", "seconds": 0.0})
        print(f"[tests] {rows[-1]}", flush=True)
    return rows


# --- benchmark -------------------------------------------------------------------------------------

def synthetic_images(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 1x28x28 images: one smooth random prototype per class, shifted and noised per item."""
    g = torch.Generator().manual_seed(seed)
    protos = torch.nn.functional.interpolate(torch.rand(10, 1, 7, 7, generator=g), size=28, mode="bilinear")
    y = torch.randint(0, 10, (n,), generator=g)
    x = protos[y] * 0.7 + torch.rand(n, 1, 28, 28, generator=g) * 0.3
    shift = torch.randint(-2, 3, (2,), generator=g).tolist()
    x = torch.roll(x, shifts=shift, dims=(2, 3))
    return (x * 255).to(torch.uint8), y


def make_model() -> nn.Module:
    torch.manual_seed(0)
    try:
        from torchloom_vision import SmallResNet, create_vision_model

        return create_vision_model(SmallResNet, n_out=10, n_in=1)
    except ImportError:  # the vision plugin is not installed: a plain CNN of similar size
        def block(i: int, o: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(i, o, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU())

        return nn.Sequential(block(1, 32), block(32, 64), block(64, 128), block(128, 256),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, 10))


def _sync(args: argparse.Namespace) -> None:
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()


class Items:
    """(image, label) items from uint8 tensors (the kernel DataLoader collates them)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]


def bench_torchloom(data: tuple, args: argparse.Namespace, bf16: bool, channels_last: bool,
                    compile_: bool) -> dict[str, Any]:
    from torchloom import CrossEntropyLossFlat, DataLoader, DataLoaders, Learner, accuracy

    (xt, yt), (xv, yv) = data
    dev = torch.device(args.device)
    fmt = torch.channels_last if channels_last else torch.contiguous_format

    def after_batch(t: torch.Tensor) -> torch.Tensor:  # runs on each element of the batch tuple, on the device
        return t.float().div_(255).contiguous(memory_format=fmt) if t.dtype == torch.uint8 else t

    train = DataLoader(Items(xt, yt), bs=args.bs, shuffle=True, drop_last=True, seed=0, num_workers=args.workers,
                       device=dev, after_batch=after_batch, persistent_workers=args.workers > 0)
    valid = DataLoader(Items(xv, yv), bs=512, device=dev, after_batch=after_batch, num_workers=args.workers)
    model = make_model().to(dev, memory_format=fmt)
    learn = Learner(DataLoaders(train, valid), model, loss_func=CrossEntropyLossFlat(), metrics=accuracy,
                    progress=False, opt_func="fused_adamw")
    learn.logger = lambda *a, **k: None
    if bf16:
        try:
            learn.use("bf16")
        except Exception as e:  # the fp16 plugin is not installed
            return {"error": f"bf16 unavailable: {e}"}
    if compile_:
        learn.use("compile")
    t = time.time()
    learn.fit_one_cycle(1, args.lr)  # warm-up epoch: compilation, cudnn autotuning, worker start
    _sync(args)
    warm = time.time() - t
    t = time.time()
    learn.fit_one_cycle(args.epochs, args.lr)
    _sync(args)
    took = time.time() - t
    n = len(train) * args.bs * args.epochs
    res = {"imgs_per_s": n / took, "epoch_s": took / args.epochs, "warmup_s": warm,
           "accuracy": float(learn.recorder.values[-1][-1])}
    if compile_:
        res["compiled"] = learn.compile.compiled
        res["compile_failed"] = learn.compile.failed
    return res


def bench_raw(data: tuple, args: argparse.Namespace) -> dict[str, Any]:
    """A plain PyTorch loop: torch DataLoader (pinned, workers), AdamW fused, same model and batches."""
    (xt, yt), _ = data
    dev = torch.device(args.device)
    ds = torch.utils.data.TensorDataset(xt, yt)
    dl = torch.utils.data.DataLoader(ds, batch_size=args.bs, shuffle=True, drop_last=True, num_workers=args.workers,
                                     pin_memory=args.device.startswith("cuda"), persistent_workers=args.workers > 0)
    model = make_model().to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, fused=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=len(dl) * (args.epochs + 1))
    loss_func = nn.CrossEntropyLoss()

    def epoch() -> None:
        model.train()
        for x, y in dl:
            x, y = x.to(dev, non_blocking=True).float().div_(255), y.to(dev, non_blocking=True)
            loss = loss_func(model(x), y)
            loss.backward()
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)

    epoch()
    _sync(args)
    t = time.time()
    for _ in range(args.epochs):
        epoch()
    _sync(args)
    took = time.time() - t
    return {"imgs_per_s": len(dl) * args.bs * args.epochs / took, "epoch_s": took / args.epochs}


def run_bench(args: argparse.Namespace) -> list[dict[str, Any]]:
    torch.backends.cudnn.benchmark = True
    x, y = synthetic_images(args.n + args.n // 5)
    data = ((x[: args.n], y[: args.n]), (x[args.n:], y[args.n:]))
    configs = [
        ("raw PyTorch loop, fp32", lambda: bench_raw(data, args)),
        ("torchloom fp32", lambda: bench_torchloom(data, args, False, False, False)),
        ("torchloom bf16 + channels_last", lambda: bench_torchloom(data, args, True, True, False)),
        ("torchloom bf16 + channels_last + compile", lambda: bench_torchloom(data, args, True, True, True)),
    ]
    rows = []
    for name, fn in configs:
        t = time.time()
        try:
            res = fn()
        except Exception as e:
            res = {"error": f"{type(e).__name__}: {e}"[:300]}
        res = {"config": name, **res, "total_s": round(time.time() - t, 1)}
        rows.append(res)
        print(f"[bench] {json.dumps(res, default=str)}", flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-tests", action="store_true")
    ap.add_argument("--skip-bench", action="store_true")
    ap.add_argument("--n", type=int, default=50_000, help="synthetic training images")
    ap.add_argument("--bs", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=2, help="timed epochs after one warm-up epoch")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--test-timeout", type=float, default=300)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--device", default="cuda", help="'cpu' only to smoke-test this script without a GPU")
    args = ap.parse_args()
    t0 = time.time()
    info = {"python": sys.version.split()[0], "torch": torch.__version__, "cuda": torch.cuda.is_available(),
            "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else args.device,
            "gpus": torch.cuda.device_count()}
    print(f"[env] {info}", flush=True)
    if not torch.cuda.is_available() and args.device.startswith("cuda"):
        print("no CUDA device: the GPU tests would all be skipped; nothing to check here")
        return 0
    os.environ.setdefault("TORCHLOOM_HOME", str(ROOT / ".gpu_check_home"))
    tests = [] if args.skip_tests else run_suites(args.test_timeout)
    bench = [] if args.skip_bench else run_bench(args)
    print("\n================ summary ================")
    print(f"{info['device']} x{info['gpus']}, torch {info['torch']}, python {info['python']}, "
          f"{time.time() - t0:.0f} s in all")
    for r in tests:
        print(f"  tests  {r['suite']:<34} {r['result']}  ({r['seconds']} s)")
    raw = next((r.get("imgs_per_s") for r in bench if r["config"].startswith("raw")), None)
    for r in bench:
        if "error" in r:
            print(f"  bench  {r['config']:<42} ERROR {r['error']}")
            continue
        ratio = f"  {raw / r['imgs_per_s']:.2f}x raw time" if raw else ""
        acc = f"  acc {r['accuracy']:.3f}" if "accuracy" in r else ""
        extra = "  (compile fell back: " + str(r["compile_failed"]) + ")" if r.get("compile_failed") else ""
        print(f"  bench  {r['config']:<42} {r['imgs_per_s']:9.0f} img/s  {r['epoch_s']:6.2f} s/epoch{ratio}{acc}"
              f"{extra}")
    if args.json is not None:
        args.json.write_text(json.dumps({"env": info, "tests": tests, "bench": bench}, indent=1, default=str))
    return 0 if all(r.get("ok", True) for r in tests) else 1


if __name__ == "__main__":
    sys.exit(main())
