"""Helpers shared by the ``bench/bench_*.py`` scripts (not a benchmark itself: ``run_all.py`` skips it).

The scripts run as ``python bench/NAME.py``, which puts this folder on ``sys.path``, so they import it
as ``from _common import ...`` from any working directory.
"""
from __future__ import annotations

import contextlib
import io
import statistics
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar

import torch

K = TypeVar("K", bound=Hashable)


# -- optimizer benchmarks ---------------------------------------------------------------------------

def resnet18_shapes(width: int = 64) -> list[tuple[int, ...]]:
    """ResNet18's parameter shapes (``width=64``); a smaller width keeps the 62 tensors but shrinks them."""
    shapes: list[tuple[int, ...]] = [(width, 3, 7, 7), (width,), (width,)]
    c_in = width
    for c in (width, 2 * width, 4 * width, 8 * width):
        for block in range(2):
            shapes += [(c, c_in if block == 0 else c, 3, 3), (c,), (c,), (c, c, 3, 3), (c,), (c,)]
            if block == 0 and c != width:
                shapes += [(c, c_in, 1, 1), (c,), (c,)]
        c_in = c
    return shapes + [(1000, 8 * width), (1000,)]


def make_params(seed: int = 0, width: int = 64) -> list[torch.nn.Parameter]:
    """Seeded parameters in ResNet18's shapes, each with a seeded gradient, ready for ``opt.step()``."""
    g = torch.Generator().manual_seed(seed)
    ps = [torch.nn.Parameter(torch.randn(s, generator=g) * 0.05) for s in resnet18_shapes(width)]
    for p in ps:
        p.grad = torch.randn(p.shape, generator=g) * 0.01
    return ps


def time_steps(opt: Any, steps: int, clock: Callable[[], float] = time.process_time) -> float:
    """ms per ``opt.step()`` after one warm-up step (which allocates the state) by ``clock``.

    Process CPU time by default: on a shared machine wall time mostly measures the other jobs.
    """
    opt.step()
    t0 = clock()
    for _ in range(steps):
        opt.step()
    return (clock() - t0) / steps * 1e3


def print_optimizer_case(width: int, steps: int, rounds: int) -> None:
    """The heading of one optimizer-benchmark case (tensor count, parameter count, rounds x steps)."""
    shapes = resnet18_shapes(width)
    n = sum(torch.Size(s).numel() for s in shapes)
    print(f"\n== ResNet18 shapes, width {width}: {len(shapes)} tensors, {n / 1e6:.2f}M params; "
          f"{rounds} rounds x {steps} steps, median ms/step")


def median_step_ms(makers: Mapping[str, Callable[[list[torch.nn.Parameter]], Any]], width: int, steps: int,
                   rounds: int, clock: Callable[[], float] = time.process_time) -> dict[str, float]:
    """Median ms per step of each maker's optimizer on fresh ``make_params(width=width)``.

    Rounds are interleaved so machine noise hits every contender alike.
    """
    results: dict[str, list[float]] = {k: [] for k in makers}
    for _ in range(rounds):
        for name, make in makers.items():
            results[name].append(time_steps(make(make_params(width=width)), steps, clock))
    return {k: statistics.median(v) for k, v in results.items()}


# -- training-loop benchmarks -----------------------------------------------------------------------

def make_batches(n: int, bs: int, n_in: int, n_out: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``n`` seeded (inputs, class targets) batches, built once so every loop trains on the same data."""
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(bs, n_in, generator=g), torch.randint(0, n_out, (bs,), generator=g)) for _ in range(n)]


class ListDL(list):
    """Pre-built batches with the attributes the learners read (device, n_inp)."""

    device = torch.device("cpu")
    n_inp = 1


class ListDLs:
    """Train and valid ``ListDL`` as the learners' ``dls`` (``dls[0]``, ``dls.train``, ``dls.device``)."""

    def __init__(self, train: list, valid: list, device: torch.device | None = None) -> None:
        self.train, self.valid = ListDL(train), ListDL(valid)
        if device is not None:
            self.train.device = self.valid.device = device
        self.device, self.n_inp = self.train.device, 1

    def __getitem__(self, i: int) -> ListDL:
        return (self.train, self.valid)[i]


def quiet_fit(learn: Any, n_epoch: int = 1) -> Callable[[], None]:
    """A callable running ``learn.fit(n_epoch)`` with stdout/stderr swallowed (fastai prints its tables)."""
    return quiet_call(lambda: learn.fit(n_epoch))


def quiet_call(fn: Callable[[], Any]) -> Callable[[], None]:
    """A callable running ``fn()`` with stdout/stderr swallowed (the raw loops go through it too, so every
    contender pays the same harness cost)."""
    def run() -> None:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            fn()
    return run


def interleaved_times(runs: Mapping[K, Callable[[], None]], rounds: int, per: int,
                      clocks: Sequence[Callable[[], float]] = (time.process_time,),
                      sync: Callable[[], None] | None = None) -> list[dict[K, list[float]]]:
    """Run each callable once (warm-up), then ``rounds`` rounds of all of them in turn.

    Interleaving makes machine noise hit every contender alike. Returns, for each clock, the ms per
    item (``per`` items per run) of every round; ``sync`` (e.g. ``torch.cuda.synchronize``) is called
    before starting and before stopping the clocks.
    """
    out: list[dict[K, list[float]]] = [{k: [] for k in runs} for _ in clocks]
    for run in runs.values():
        run()
    for _ in range(rounds):
        for name, run in runs.items():
            if sync is not None:
                sync()
            starts = [clock() for clock in clocks]
            run()
            if sync is not None:
                sync()
            for times, clock, t0 in zip(out, clocks, starts):
                times[name].append((clock() - t0) / per * 1e3)
    return out
