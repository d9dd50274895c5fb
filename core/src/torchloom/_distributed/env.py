"""Rank helpers: where this process sits in a ``torch.distributed`` job, and how to join one.

Everything here is a cheap no-op in a single process, so library code can call it unconditionally.
A job is started by ``torchrun`` (which sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``/``MASTER_PORT``); the process group is created on first use (gloo on CPU, NCCL
when CUDA is present), never at import time.
"""
from __future__ import annotations

import atexit
import contextlib
import datetime
import os
import sys
from collections.abc import Iterator

import torch
import torch.distributed as dist

__all__ = [
    "auto_ddp", "barrier", "ensure_process_group", "is_distributed", "is_main_process", "launched_by_torchrun",
    "local_rank", "num_distrib", "rank", "rank0_first", "rank_distrib", "world_size",
]


def _env_int(name: str, default: int) -> int:
    v = os.environ.get(name)
    if v is None or v == "":
        return default
    try:
        return int(v)
    except ValueError:
        raise ValueError(f"environment variable {name}={v!r} must be an integer (set by torchrun)") from None


def launched_by_torchrun() -> bool:
    """True when this process is one of several started by ``torchrun`` (``WORLD_SIZE`` > 1)."""
    return _env_int("WORLD_SIZE", 1) > 1 and "RANK" in os.environ


def auto_ddp() -> bool:
    """Whether a new Learner switches ``ddp`` on by itself: under ``torchrun`` unless ``TORCHLOOM_DDP=0``."""
    return launched_by_torchrun() and os.environ.get("TORCHLOOM_DDP", "1").strip().lower() not in (
        "0", "false", "no", "off")


def is_distributed() -> bool:
    """True when a process group with more than one rank is initialized."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's global rank (0 in a single process)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return _env_int("RANK", 0)


def world_size() -> int:
    """Number of processes in the job (1 in a single process)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return _env_int("WORLD_SIZE", 1)


rank_distrib = rank  # fastai's names
num_distrib = world_size


def local_rank() -> int:
    """Rank on this machine (picks the GPU under NCCL)."""
    return _env_int("LOCAL_RANK", 0)


def is_main_process() -> bool:
    """True on rank 0: the process that draws progress bars, logs and writes files."""
    return rank() == 0


def barrier() -> None:
    """Wait for every rank (no-op in a single process)."""
    if is_distributed():
        if dist.get_backend() == "nccl":
            dist.barrier(device_ids=[torch.cuda.current_device()])
        else:
            dist.barrier()


@contextlib.contextmanager
def rank0_first() -> Iterator[None]:
    """Run the block on rank 0 first, then on the others (e.g. to download or cache data once)."""
    if not is_main_process():
        barrier()
    yield
    if is_main_process():
        barrier()


def _destroy() -> None:
    """At interpreter exit: meet the other ranks, then tear the group down.

    Without the barrier a rank that finishes first destroys its group while a peer's gloo threads
    still talk to it, and the peer can abort ("terminate called without an active exception").
    After an uncaught exception the barrier is skipped: the peers may never reach it, and torchrun
    stops them anyway.
    """
    if dist.is_available() and dist.is_initialized():
        with contextlib.suppress(Exception):
            if getattr(sys, "last_value", None) is None and dist.get_world_size() > 1:
                barrier()
        with contextlib.suppress(Exception):
            dist.destroy_process_group()


def ensure_process_group(backend: str | None = None, timeout: float | None = None) -> bool:
    """Join the ``torchrun`` job if this process belongs to one and has not joined yet.

    ``backend`` defaults to ``$TORCHLOOM_DDP_BACKEND``, else NCCL when CUDA is available and gloo
    otherwise (gloo also runs CUDA models, e.g. several ranks on one GPU); ``timeout`` (seconds)
    bounds how long a collective waits for a missing rank. Returns True when more than one rank
    takes part. The group this creates is destroyed at interpreter exit.
    """
    if not dist.is_available():
        if launched_by_torchrun():
            raise RuntimeError("this process was started by torchrun but torch.distributed is not available "
                               "in this PyTorch build")
        return False
    if dist.is_initialized():
        return dist.get_world_size() > 1
    if not launched_by_torchrun():
        return False
    for need in ("MASTER_ADDR", "MASTER_PORT"):
        if need not in os.environ:
            raise RuntimeError(f"RANK/WORLD_SIZE are set but {need} is not: start the job with torchrun "
                               f"(or set {need} for the rendezvous)")
    if backend is None:
        backend = os.environ.get("TORCHLOOM_DDP_BACKEND") or ("nccl" if torch.cuda.is_available() else "gloo")
    if backend == "nccl":
        torch.cuda.set_device(local_rank())
    kw = {} if timeout is None else {"timeout": datetime.timedelta(seconds=timeout)}
    dist.init_process_group(backend=backend, **kw)
    atexit.register(_destroy)
    return dist.get_world_size() > 1
