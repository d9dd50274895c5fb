"""GPU check of the reliability features, for a CUDA machine with torchloom installed (run from the repo root).

* ``fit_guard`` on CUDA: wall time per batch with and without it, alternating (it handles no per-batch event
  after the first batch, so no extra host sync);
* the first-NaN warning on CUDA names the batch;
* ``load_learner(cpu=False)`` of an export (the model is first built on the meta device).
usage: python bench/gpu_security_check.py
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
from torch import nn

from torchloom import CrossEntropyLossFlat, Learner, load_learner
from torchloom.testing import SynthDataLoaders


def _learner(x: torch.Tensor, y: torch.Tensor, model: nn.Module, guard: bool = True) -> Learner:
    n = 64 * 45
    dls = SynthDataLoaders((x[:n], y[:n]), (x[n:], y[n:]), bs=64, shuffle=False, device=x.device)
    learn = Learner(dls, model.to(x.device), loss_func=CrossEntropyLossFlat(), progress=False)
    learn.logger = lambda *a: None
    if not guard:
        learn.remove_cb(learn.fit_guard)
    return learn


def per_batch_us(x: torch.Tensor, y: torch.Tensor, guard: bool) -> float:
    learn = _learner(x, y, nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 4)), guard)
    learn.fit(1)
    torch.cuda.synchronize()
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        learn.fit(1)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) / 50 * 1e6


def main() -> None:
    if not torch.cuda.is_available():
        sys.exit("needs a CUDA device")
    print("torch", torch.__version__, torch.cuda.get_device_name(0))
    dev = torch.device("cuda")
    g = torch.Generator(device=dev).manual_seed(0)
    x = torch.randn(64 * 50, 32, device=dev, generator=g)
    y = torch.randint(0, 4, (64 * 50,), device=dev, generator=g)
    for guard in (False, True, False, True):
        print(f"fit_guard={guard}: {per_batch_us(x, y, guard):.1f} us/batch (wall)")
    bad = x.clone()
    bad[64 * 3 + 1, 0] = float("nan")
    learn = _learner(bad, y, nn.Linear(32, 4))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        learn.fit(1)
    print("NaN warning:", [str(w.message)[:80] for w in caught if "became" in str(w.message)])
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: tests.security
    from tests.security.helpers import make_learner

    exported = make_learner(Path(tempfile.mkdtemp())).export()
    print("load_learner(cpu=False) ->", next(load_learner(exported, cpu=False).model.parameters()).device)


if __name__ == "__main__":
    main()
