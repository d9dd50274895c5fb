"""Mixed precision with torchloom-fp16 vs the same autocast/GradScaler loop written by hand (and fastai 2.8).

One run, same model (an MLP 784-512-256-10 by default, ``--conv`` for a small CNN; same initial weights), same pre-built 28x28 batches, torch.optim.SGD:
  raw fp32                 plain loop
  raw bf16 / raw fp16      torch.autocast by hand (fp16 also with torch.amp.GradScaler)
  torchloom fp32/bf16/fp16 Learner (bars off) with learn.use("bf16") / learn.use("fp16")
  fastai 2.8               learn.to_bf16() / to_fp16() -- fastai's MixedPrecision hard-codes 'cuda',
                           so on a CPU-only machine it is skipped
Note: CPUs without native bf16/fp16 arithmetic (no AVX512-BF16/AMX/AVX512-FP16) emulate them, so
there low precision is slower than fp32 (convolutions much more so); the overhead column still holds.
Reports median process-CPU ms per training batch, each precision vs fp32 (does the hardware gain?)
and torchloom vs the hand-written loop of the same precision (the plugin's overhead).
usage: python bench/bench_precision.py [--batches 60] [--rounds 3] [--threads 1] [--device cpu]
"""
from __future__ import annotations

import argparse
import copy
import statistics
import time
import warnings
from functools import partial

import torch
from _common import ListDL, ListDLs, interleaved_times, quiet_fit
from torch import nn


def make_model(conv: bool) -> nn.Module:
    torch.manual_seed(0)
    if conv:
        return nn.Sequential(nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, stride=2, padding=1),
                             nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))


def raw_epoch(model, opt, batches, dtype, scaler, dev_type) -> None:
    model.train()
    for xb, yb in batches:
        with torch.autocast(dev_type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = nn.functional.cross_entropy(model(xb).float(), yb)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        opt.zero_grad()


def setup_raw(base, batches, dtype, dev):
    model = copy.deepcopy(base)
    opt = torch.optim.SGD(model.parameters(), lr=1e-2)
    scaler = torch.amp.GradScaler(dev.type) if dtype is torch.float16 else None
    return lambda: raw_epoch(model, opt, batches, dtype, scaler, dev.type)


def setup_torchloom(base, batches, use, dev):
    from torchloom import Learner, OptimWrapper

    learn = Learner(ListDLs(batches, [], dev), copy.deepcopy(base), nn.CrossEntropyLoss(),
                    opt_func=partial(OptimWrapper, opt=torch.optim.SGD), lr=1e-2, progress=False,
                    use=[use] if use else None)
    learn.logger = lambda *a: None
    return lambda: learn.fit(1)


def setup_fastai(base, batches, mode, dev):
    from fastai.callback.fp16 import MixedPrecision
    from fastai.callback.progress import ProgressCallback
    from fastai.data.core import DataLoaders
    from fastai.learner import Learner
    from fastai.optimizer import OptimWrapper

    train = ListDL(batches)
    learn = Learner(DataLoaders(train, ListDL([]), device=dev), copy.deepcopy(base), nn.CrossEntropyLoss(),
                    opt_func=partial(OptimWrapper, opt=torch.optim.SGD), lr=1e-2,
                    cbs=[MixedPrecision(amp_mode=mode)] if mode else None)
    learn.remove_cb(ProgressCallback)
    learn.logger = lambda *a: None
    return quiet_fit(learn)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=30)
    ap.add_argument("--conv", action="store_true", help="a small CNN instead of the MLP (slow on CPUs without bf16)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--bs", type=int, default=64)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    batches = [(torch.rand(args.bs, 1, 28, 28, generator=g).to(dev), torch.randint(0, 10, (args.bs,), generator=g).to(dev))
               for _ in range(args.batches)]
    base = make_model(args.conv).to(dev)
    configs = {
        "raw fp32": setup_raw(base, batches, None, dev),
        "raw bf16 (autocast)": setup_raw(base, batches, torch.bfloat16, dev),
        "raw fp16 (autocast+GradScaler)": setup_raw(base, batches, torch.float16, dev),
        "torchloom fp32": setup_torchloom(base, batches, None, dev),
        "torchloom use('bf16')": setup_torchloom(base, batches, "bf16", dev),
        "torchloom use('fp16')": setup_torchloom(base, batches, "fp16", dev),
    }
    note = None
    if dev.type != "cuda":
        note = "fastai 2.8: MixedPrecision hard-codes autocast('cuda'): skipped on CPU"
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                configs["fastai fp32"] = setup_fastai(base, batches, None, dev)
                configs["fastai to_bf16"] = setup_fastai(base, batches, "bf16", dev)
                configs["fastai to_fp16"] = setup_fastai(base, batches, "fp16", dev)
        except ImportError:
            note = "fastai not installed: skipped"
    clock = time.perf_counter if dev.type == "cuda" else time.process_time
    (times,) = interleaved_times(configs, args.rounds, len(batches), clocks=(clock,),
                                 sync=torch.cuda.synchronize if dev.type == "cuda" else None)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"torch {torch.__version__}, device {dev}, {torch.get_num_threads()} thread(s); {'CNN' if args.conv else 'MLP'} on 28x28, "
          f"bs {args.bs}, {args.batches} batches x {args.rounds} rounds; ms per training batch")
    print(f"{'':32s} {'ms/batch':>9s} {'vs fp32 same loop':>18s} {'vs raw same precision':>22s}")
    for name, m in med.items():
        family = name.split(" ")[0]
        prec = "fp32" if "fp32" in name else ("bf16" if "bf16" in name else "fp16")
        fp32 = med[f"{family} fp32"]
        raw = med[{"fp32": "raw fp32", "bf16": "raw bf16 (autocast)", "fp16": "raw fp16 (autocast+GradScaler)"}[prec]]
        print(f"{name:32s} {m:9.3f} {m / fp32:17.2f}x {m / raw:21.2f}x")
    if note:
        print(note)


if __name__ == "__main__":
    main()
