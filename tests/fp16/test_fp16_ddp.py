"""fp16 (autocast + dynamic loss scaling) under DDP on CPU: two gloo processes under torchrun train like one.

DDP averages the gradients before ``before_step`` unscales them, so every rank sees the same gradients,
finds the same inf/NaN (or none), skips the same steps and keeps the same loss scale.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.kernel.distributed.launch import torchrun_job


def test_fp16_ddp_on_cpu_matches_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DDP_JOB_USE", "fp16")
    from tests.kernel.distributed import ddp_job

    single = ddp_job.run(tmp_path / "single", "plugins")
    assert single["plugins"] == ["fp16"]
    out = tmp_path / "ddp"
    out.mkdir()
    p = torchrun_job(out, "plugins")
    assert p.returncode == 0, f"torchrun failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-5000:]}"
    r0, r1 = (torch.load(out / f"result_{r}.pt") for r in range(2))
    assert r0["plugins"] == r1["plugins"] == ["fp16"] and r0["world"] == 2
    assert r0["loss_scale"] == r1["loss_scale"] == single["loss_scale"] < 2.0**16  # the same steps skipped
    for k, v in single["weights"].items():
        assert torch.equal(r0["weights"][k], r1["weights"][k])  # ranks stay in lockstep
        # fp16 autocast: half batches round differently from whole ones (1e-5 here; a step skipped on one
        # side only would differ by ~1e-2)
        torch.testing.assert_close(r0["weights"][k], v, rtol=1e-3, atol=1e-4)
    torch.testing.assert_close(torch.tensor(r0["values"]), torch.tensor(single["values"]), rtol=1e-3, atol=1e-3)
