"""DDP with the precision and EMA plugins: two gloo processes under torchrun match one process."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.kernel.distributed.launch import torchrun_job


@pytest.mark.parametrize("plugins", ["bf16,ema"])
def test_ddp_with_bf16_and_ema_matches_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   plugins: str) -> None:
    monkeypatch.setenv("DDP_JOB_USE", plugins)
    from tests.kernel.distributed import ddp_job

    single = ddp_job.run(tmp_path / "single", "plugins")
    assert single["plugins"] == ["bf16", "ema"]
    out = tmp_path / "ddp"
    out.mkdir()
    p = torchrun_job(out, "plugins")
    assert p.returncode == 0, p.stderr[-4000:]
    r0, r1 = (torch.load(out / f"result_{r}.pt") for r in range(2))
    for k, v in single["weights"].items():
        assert torch.equal(r0["weights"][k], r1["weights"][k])  # ranks stay in lockstep
        # bf16 autocast: half batches round differently from whole ones, so only close
        torch.testing.assert_close(r0["weights"][k], v, rtol=2e-2, atol=2e-2)
    # validation ran with the EMA weights on every rank and was reduced over the whole set
    torch.testing.assert_close(torch.tensor(r0["values"]), torch.tensor(single["values"]), rtol=5e-2, atol=2e-2)
