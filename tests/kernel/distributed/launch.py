"""Run ``ddp_job.py`` under ``torchrun`` with two CPU processes: the one launcher of the DDP tests of the kernel,
fp16 and integration envs."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

JOB = Path(__file__).resolve().parent / "ddp_job.py"
TORCHRUN_TIMEOUT = 240  # a shared, loaded CI machine; an idle one needs about 20 s


def torchrun_job(out: Path, *args: str, env: dict[str, str] | None = None,
                 timeout: float = TORCHRUN_TIMEOUT) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node 2 ddp_job.py OUT ARGS...`` (one torch thread per rank)."""
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(JOB.parent), **(env or {})}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(JOB), str(out), *args]
    return subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=timeout)
