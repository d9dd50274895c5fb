"""Data-layer overheads: torchloom vs plain PyTorch (and fastai 2.8 side by side, in the same run).

1. typed-tensor op ``t * 1.0`` on a TensorBase subtype vs a plain tensor (target <= 1.5x), at two sizes;
2. a Transform called on an (image, label) tuple vs calling the function directly (target <= 3x);
3. a 4-transform Pipeline per item vs the 4 functions composed by hand;
4. DataLoader items/s vs ``torch.utils.data.DataLoader`` on the same map-style dataset (target >= 1.0x).
Measurements are interleaved (A, B, A, B, ...) and the minimum of each is kept, in process CPU time
(wall time for the multi-worker row), because the shared machine is noisy.
usage: python bench/bench_data.py [--rounds 7] [--threads 1] [--no-fastai]
"""

import argparse
import contextlib
import io
import sys
import time
import timeit
import warnings
from collections.abc import Callable

import torch


def best_us(fns: dict[str, Callable[[], object]], number: int, rounds: int,
            timer: Callable[[], float] = time.process_time) -> dict[str, float]:
    """Interleaved timing: the best per-call time in µs of each function over many short samples.

    Short samples (``number`` / 10 calls each, 5x ``rounds`` of them) and process CPU time (single-threaded
    work: time spent waiting for a core is not counted) make the minimum robust to a loaded shared machine.
    """
    res = {k: float("inf") for k in fns}
    n = max(1, number // 10)
    for _ in range(rounds * 5 if number > 1 else rounds):
        for k, f in fns.items():
            t = timeit.Timer(f, timer=timer).timeit(number=n) / n * 1e6
            res[k] = min(res[k], t)
    return res


def load_fastai():
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            import fasttransform
            from fastai.data.load import DataLoader as FDataLoader
            from fastai.torch_core import TensorCategory as FTensorCategory
            from fastai.torch_core import TensorImage as FTensorImage
        return {"Transform": fasttransform.Transform, "Pipeline": fasttransform.Pipeline,
                "TensorImage": FTensorImage, "TensorCategory": FTensorCategory, "DataLoader": FDataLoader}
    except ImportError:
        return None


def row(name: str, ours: float, base: float, fa: float | None, unit: str, target: str) -> str:
    fa_s = f"{fa:10.2f} {fa / base:7.2f}x" if fa is not None else "   fastai not installed: skipped"
    return f"{name:<44} {base:10.2f} {ours:10.2f} {ours / base:7.2f}x {fa_s}   {target}   ({unit})"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-fastai", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from torchloom import DataLoader, Pipeline, TensorBase, TensorCategory, Transform

    fa = None if args.no_fastai else load_fastai()

    class TensorImage(TensorBase):
        pass

    class BareSubclass(torch.Tensor):
        """No torchloom code at all: torch's default subclass handling, the floor for a Python subclass."""

    lines = []
    header = f"{'measure':<44} {'plain':>10} {'torchloom':>10} {'ratio':>8} {'fastai':>10} {'ratio':>8}   target"
    print(f"torch {torch.__version__}, threads={args.threads}, rounds={args.rounds}")

    # 1. typed-tensor op ----------------------------------------------------------------------------------
    for shape, number in (((1000,), 20000), ((64, 3, 32, 32), 300)):
        plain = torch.rand(*shape)
        ours = TensorImage(plain.clone())
        fns = {"plain": lambda p=plain: p * 1.0, "ours": lambda o=ours: o * 1.0}
        if fa:
            fimg = fa["TensorImage"](plain.clone())
            fns["fastai"] = lambda f=fimg: f * 1.0
        bare = plain.clone().as_subclass(BareSubclass)
        fns["bare"] = lambda b=bare: b * 1.0
        r = best_us(fns, number, args.rounds)
        lines.append(row(f"TensorImage * 1.0, shape {shape}", r["ours"], r["plain"], r.get("fastai"), "µs/op",
                         "<= 1.5x"))
        lines.append(f"{'  (context: bare torch.Tensor subclass)':<44} {r['plain']:10.2f} {r['bare']:10.2f} "
                     f"{r['bare'] / r['plain']:7.2f}x   torch's own default __torch_function__")

    # 2. Transform on an (image, label) tuple ---------------------------------------------------------------
    img, lbl = TensorImage(torch.rand(3, 32, 32)), TensorCategory(3)

    def flip(x):
        return x.flip(-1)

    class Flip(Transform):
        def encodes(self, x: TensorImage):
            return x.flip(-1)

    tfm = Flip()
    fns = {"plain": lambda: (flip(img), lbl), "ours": lambda: tfm((img, lbl))}
    if fa:
        FImg, FCat = fa["TensorImage"], fa["TensorCategory"]

        class FFlip(fa["Transform"]):
            def encodes(self, x: FImg):
                return x.flip(-1)

        ftfm, fimg, flbl = FFlip(), FImg(torch.rand(3, 32, 32)), FCat(3)
        fns["fastai"] = lambda: ftfm((fimg, flbl))
    r = best_us(fns, 5000, args.rounds)
    lines.append(row("Transform((image, label)) vs flip(image)", r["ours"], r["plain"], r.get("fastai"), "µs/call",
                     "<= 3x"))

    # 3. Pipeline per item -----------------------------------------------------------------------------------
    def f1(x: int):
        return x + 1

    def f2(x: int):
        return x * 2

    def f3(x: int):
        return x - 3

    def f4(x: int):
        return x // 2

    pipe = Pipeline([f1, f2, f3, f4])
    fns = {"plain": lambda: f4(f3(f2(f1(7)))), "ours": lambda: pipe(7)}
    if fa:
        fpipe = fa["Pipeline"]([f1, f2, f3, f4])
        fns["fastai"] = lambda: fpipe(7)
    r = best_us(fns, 5000, args.rounds)
    lines.append(row("4-transform Pipeline per item", r["ours"], r["plain"], r.get("fastai"), "µs/item", "-"))

    # 4. DataLoader items/s ----------------------------------------------------------------------------------
    n, bs = 4096, 64
    xs = torch.rand(n, 3, 32, 32)
    ys = torch.randint(0, 10, (n,))

    class DS(torch.utils.data.Dataset):
        def __len__(self):
            return n

        def __getitem__(self, i):
            return xs[i], ys[i]

    ds = DS()
    tdl = torch.utils.data.DataLoader(ds, batch_size=bs, shuffle=True)
    odl = DataLoader(ds, bs=bs, shuffle=True)
    loaders = {"plain": tdl, "ours": odl}
    if fa:
        loaders["fastai"] = fa["DataLoader"](ds, bs=bs, shuffle=True)

    def epoch(dl):
        def run():
            for _b in dl:
                pass
        return run

    r = best_us({k: epoch(v) for k, v in loaders.items()}, 1, args.rounds)
    ips = {k: n / (v / 1e6) for k, v in r.items()}
    fa_ips = ips.get("fastai")
    # for items/s higher is better: report base/ours as the "time ratio" and the speed ratio explicitly
    lines.append(f"{'DataLoader items/s (bs=64, 3x32x32, 0 workers)':<44} {ips['plain']:10.0f} {ips['ours']:10.0f} "
                 f"{ips['ours'] / ips['plain']:7.2f}x " +
                 (f"{fa_ips:10.0f} {fa_ips / ips['plain']:7.2f}x" if fa_ips else "   fastai not installed: skipped") +
                 "   >= 1.0x   (items/s, ratio = speed vs torch)")

    # the same with 2 persistent worker processes (both through torch's multiprocessing DataLoader; workers are
    # started by a first, untimed epoch so the rows compare steady-state throughput)
    tdl2 = torch.utils.data.DataLoader(ds, batch_size=bs, shuffle=True, num_workers=2, persistent_workers=True)
    odl2 = DataLoader(ds, bs=bs, shuffle=True, num_workers=2, persistent_workers=True)
    for d in (tdl2, odl2):
        epoch(d)()
    r2 = best_us({"plain": epoch(tdl2), "ours": epoch(odl2)}, 1, args.rounds, timer=time.perf_counter)  # wall
    ips2 = {k: n / (v / 1e6) for k, v in r2.items()}
    lines.append(f"{'DataLoader items/s (same, 2 persistent workers)':<44} {ips2['plain']:10.0f} {ips2['ours']:10.0f} "
                 f"{ips2['ours'] / ips2['plain']:7.2f}x " + " " * 19 + "   >= 1.0x   (items/s, ratio = speed vs torch)")

    print(header)
    print("\n".join(lines))
    print("ratios: time vs plain PyTorch (lower is better), except DataLoader: speed vs torch DataLoader "
          "(higher is better)")
    return 0


if __name__ == "__main__":
    t0 = time.perf_counter()
    rc = main()
    print(f"done in {time.perf_counter() - t0:.1f}s")
    sys.exit(rc)
