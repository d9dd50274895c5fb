"""The new-user fit of ``bench_loop.py`` for several kernel versions side by side in ONE process.

    python bench/side_by_side_loop.py [--rounds 30] [REF ...]      # default refs: main

Each git REF's ``core/src/torchloom`` is extracted (``git archive``) into a temporary folder and renamed
(``torchloom`` -> ``tl_<n>`` in every module) so that it imports beside the working tree's kernel; the
learners of the older kernels get the same default callbacks by hand (train/eval, cast-to-tensor,
recorder, fit guard: what the registry adds, progress bar off). Rounds are interleaved, and each fit is
divided by the raw loop run just before it in the same round (median of those ratios), as process CPU
time and wall time: on a loaded machine this is steadier than a ratio of medians from separate runs.
Not a ``bench_*`` script: ``run_all.py`` does not run it.
"""
from __future__ import annotations

import argparse
import copy
import importlib
import io
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from _common import ListDLs, make_batches, quiet_call, quiet_fit
from bench_loop import make_model_small, raw_fit
from torch import nn

ROOT = Path(__file__).resolve().parent.parent


def extract_kernel(ref: str, dest: Path, name: str) -> None:
    """``core/src/torchloom`` at ``ref`` as package ``name`` under ``dest``."""
    data = subprocess.run(["git", "archive", ref, "core/src/torchloom"], cwd=ROOT, check=True,
                          capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest / "_x", filter="data")
    (dest / "_x" / "core" / "src" / "torchloom").rename(dest / name)
    for f in (dest / name).rglob("*.py"):
        f.write_text(re.sub(r"\btorchloom\b", name, f.read_text()))


def learner_fit(pkg: str, opt_func: Callable, train: list, valid: list, base: nn.Module) -> Callable[[], None]:
    m = importlib.import_module(pkg)
    guard = importlib.import_module(pkg + ".callbacks._guards").FitGuard
    cbs = [m.TrainEvalCallback(), m.CastToTensor(), m.Recorder(), guard()]
    learn = m.Learner(ListDLs(train, valid), copy.deepcopy(base), nn.CrossEntropyLoss(), opt_func=opt_func, lr=0.1,
                      default_cbs=False, cbs=cbs)
    return quiet_fit(learn, 3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("refs", nargs="*", default=["main"])
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    torch.set_num_threads(1)
    train, valid = make_batches(32, 64, 32, 2, seed=5), make_batches(1, 64, 32, 2, seed=6)
    base = make_model_small()
    model = copy.deepcopy(base)
    raw_opt, loss_fn = torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss()
    raw = "raw PyTorch loop (torch SGD)"
    configs: dict[str, Callable[[], None]] = {raw: quiet_call(lambda: raw_fit(model, raw_opt, loss_fn, train, valid, 3))}
    with tempfile.TemporaryDirectory() as tmp:
        sys.path.insert(0, tmp)
        kernels = []
        for i, ref in enumerate(args.refs):
            extract_kernel(ref, Path(tmp), f"tl_{i}")
            kernels.append((ref, f"tl_{i}"))
        kernels.append(("working tree", "torchloom"))
        for label, pkg in kernels:
            for opt_label, opt in (("torch.optim.SGD", torch.optim.SGD),
                                   ("kernel SGD", importlib.import_module(pkg).SGD)):
                configs[f"{label}, opt_func={opt_label}"] = learner_fit(pkg, opt, train, valid, base)
        cpu: dict[str, list[float]] = {k: [] for k in configs}
        wall: dict[str, list[float]] = {k: [] for k in configs}
        for run in configs.values():
            run()
        for _ in range(args.rounds):
            for k, run in configs.items():
                t, w = time.process_time(), time.perf_counter()
                run()
                cpu[k].append(time.process_time() - t)
                wall[k].append(time.perf_counter() - w)
    print(f"torch {torch.__version__}, 1 thread; new-user fit(3): MLP 32-64-2, bs 64, 32 train + 1 valid batches per "
          f"epoch; {args.rounds} interleaved rounds; ratio = median over rounds of (fit / raw loop of that round)")
    width = max(len(k) for k in configs)
    print(f"{'':<{width}}  {'CPU ms/fit':>10}  {'CPU vs raw':>10}  {'wall vs raw':>11}")
    for k in configs:
        c = statistics.median([a / b for a, b in zip(cpu[k], cpu[raw])])
        w = statistics.median([a / b for a, b in zip(wall[k], wall[raw])])
        print(f"{k:<{width}}  {statistics.median(cpu[k]) * 1e3:10.2f}  {c:9.3f}x  {w:10.3f}x")


if __name__ == "__main__":
    main()
