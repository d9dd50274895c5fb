"""``use("compile")`` together with ``use("ddp")``: two gloo processes train a compiled model exactly like
one eager process, whichever of the two was switched on first.

The compile backend is ``aot_eager``: TorchDynamo captures the graph and AOTAutograd builds the joint
forward/backward graph whose gradients DDP's hooks must see, as with inductor, without the C++ code
generation that would take minutes on a loaded 2-core CI machine.
"""
from __future__ import annotations

from pathlib import Path

import torch

from tests.kernel.distributed.launch import torchrun_job


def test_compiled_ddp_runs_match_one_eager_process_in_either_order(tmp_path: Path) -> None:
    from tests.kernel.distributed import ddp_job

    single = ddp_job.run(tmp_path / "eager", "plugins")  # one process, eager, no plugins
    out = tmp_path / "ddp"
    out.mkdir()
    p = torchrun_job(out, "compile", env={"DDP_JOB_USE": ""})
    assert p.returncode == 0, f"torchrun failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-5000:]}"
    r0, r1 = (torch.load(out / f"result_{r}.pt") for r in range(2))
    assert r0["world"] == 2
    for first in ("ddp", "compile"):
        a, b = r0[first], r1[first]
        assert a["compiled"] == b["compiled"] == (True, None)  # compiled, and it did not fall back to eager
        for k, v in single["weights"].items():
            assert torch.equal(a["weights"][k], b["weights"][k])  # ranks in lockstep
            torch.testing.assert_close(a["weights"][k], v, rtol=1e-5, atol=1e-6,
                                       msg=lambda m, k=k, first=first: f"{first} first, {k}: {m}")
        torch.testing.assert_close(torch.tensor(a["values"]), torch.tensor(single["values"]), rtol=1e-5, atol=1e-6)
