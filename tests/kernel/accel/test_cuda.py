"""The accelerator path on CUDA: pinned non-blocking loading, device training, fused steps, compile, DDP.

Skipped without a GPU; ``python bench/gpu_check.py`` runs them (and the plugins' GPU tests) on one.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn

from tests.kernel.distributed.launch import torchrun_job
from torchloom import CrossEntropyLossFlat, DataLoader, Learner, accuracy
from torchloom.testing import SynthDataLoaders

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def _blobs(n: int = 512, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(3, 8, generator=g) * 3
    y = torch.randint(0, 3, (n,), generator=g)
    return centers[y] + torch.randn(n, 8, generator=g), y


def _learner(**kw) -> Learner:
    x, y = _blobs()
    dls = SynthDataLoaders((x[:384], y[:384]), (x[384:], y[384:]), bs=64, device="cuda")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 3))
    return Learner(dls, model, loss_func=CrossEntropyLossFlat(), metrics=accuracy, progress=False, lr=1e-2, **kw)


def test_loader_pins_memory_and_delivers_cuda_batches() -> None:
    x, y = _blobs(256)
    items = list(zip(x, y))
    for workers in (0, 2):
        dl = DataLoader(items, bs=32, device="cuda", num_workers=workers)
        assert dl.pin_memory  # automatic for a CUDA device
        batches = list(dl)
        assert len(batches) == 8 and all(t.is_cuda for b in batches for t in b)
        assert torch.equal(torch.cat([b[0] for b in batches]).cpu(), x)
    assert not DataLoader(items, bs=32, device="cuda", pin_memory=False).pin_memory


@pytest.mark.parametrize("opt_func", ["adam", "fused_adamw"])
def test_training_on_cuda_reaches_accuracy(opt_func: str) -> None:
    learn = _learner(opt_func=opt_func)
    learn.fit_one_cycle(3)
    assert next(learn.model.parameters()).is_cuda
    assert learn.recorder.values[-1][-1] > 0.9
    if opt_func == "fused_adamw":
        assert learn.opt.opt.defaults.get("fused") is True
    else:
        assert learn.opt.foreach  # the vectorised step, one chunk on a GPU


def test_compile_with_inductor_on_cuda() -> None:
    eager = _learner()
    eager.fit(2)
    learn = _learner().use("compile")
    learn.fit(2)
    assert learn.compile.compiled and learn.compile.failed is None
    for a, b in zip(learn.model.parameters(), eager.model.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("backend", [
    "gloo",  # several ranks may share one GPU
    pytest.param("nccl", marks=pytest.mark.skipif(torch.cuda.device_count() < 2,
                                                  reason="NCCL needs one GPU per rank: 2 GPUs")),
])
def test_ddp_on_cuda_matches_one_process(tmp_path: Path, backend: str) -> None:
    from tests.kernel.distributed import ddp_job

    os.environ["DDP_JOB_DEVICE"] = "cuda"
    try:
        single = ddp_job.run(tmp_path / "single")
    finally:
        del os.environ["DDP_JOB_DEVICE"]
    out = tmp_path / "ddp"
    out.mkdir()
    p = torchrun_job(out, "main", env={"DDP_JOB_DEVICE": "cuda", "TORCHLOOM_DDP_BACKEND": backend}, timeout=300)
    assert p.returncode == 0, p.stderr[-5000:]
    r0 = torch.load(out / "result_0.pt")
    assert r0["distributed"] and r0["backend"] == backend
    for k, v in single["weights"].items():
        torch.testing.assert_close(r0["weights"][k], v, rtol=1e-4, atol=1e-5)
    assert r0["validate"] == pytest.approx(single["validate"], rel=1e-4)
