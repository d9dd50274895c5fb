"""Each lever of the vision benchmark alone, torchloom side only, interleaved rounds, CPU time.

Runs ``bench_vision.run_torchloom`` (the same recipe: SmallResNet + head, bs 128, flip/rotate 5/zoom 1.1/
lighting 0.1, Adam, one-cycle) on a subset in several configurations, one after the other in each round, so
machine noise hits all of them alike; prints the median CPU seconds of the first epoch (PNGs decoded), of the
later epochs (the steady state the levers change) and of the whole run, and each lever's share of the
default configuration's time.

    python bench/bench_vision_levers.py --subset 3000 --epochs 2 --rounds 2

Configurations (each changes ONE thing from the defaults):
``default`` (cache on, channels_last on, aug on, workers 0, no_grad validation);
``no-cache`` (decode every PNG every epoch); ``contiguous`` (``channels_last=False``);
``no-aug`` (no batch augmentation: its cost, not a recipe option); ``inference-valid`` (validation under
``torch.inference_mode`` instead of ``no_grad``); ``workers-1`` (one persistent loader process prefetching;
its wall time is what changes, printed too, and is meaningful only on an otherwise idle machine).
"""
from __future__ import annotations

import argparse
import copy
import random
import statistics
import sys

import bench_vision as bv
import numpy as np
import torch

CONFIGS = {
    "default": {},
    "no-cache": {"cache": False},
    "contiguous": {"channels_last": False},
    "no-aug": {"aug": False},
    "inference-valid": {"inference_valid": True},
    "workers-1": {"workers": 1},
}


def inference_valid_cb() -> object:
    """Validation under ``torch.inference_mode`` (entered after the loop's ``no_grad``, left before it)."""
    from torchloom import Callback

    class _Inference(Callback):
        def before_validate(self) -> None:
            self._ctx = torch.inference_mode()
            self._ctx.__enter__()

        def after_validate(self) -> None:
            self._ctx.__exit__(None, None, None)

    return _Inference()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subset", type=int, default=3000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--bs", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    files = bv.subset_files(bv.write_pngs(bv.OUT), args.subset)
    init = copy.deepcopy(bv.make_model().state_dict())
    print(f"{len(files[0])} train / {len(files[1])} valid PNGs, {args.epochs} epochs, {args.rounds} rounds, "
          f"threads={args.threads}")
    res: dict[str, list[tuple[float, float, float, float, float]]] = {k: [] for k in args.configs}
    for r in range(args.rounds):
        for name in args.configs:
            ns = argparse.Namespace(bs=args.bs, lr=args.lr, epochs=args.epochs, workers=0, cache=True,
                                    compile=False, channels_last=True, aug=True)
            opts = dict(CONFIGS[name])
            if opts.pop("inference_valid", False):
                ns.extra_cbs = [inference_valid_cb()]
            vars(ns).update(opts)
            random.seed(0)  # the same shuffle and augmentation draws in every configuration
            np.random.seed(0)
            torch.manual_seed(0)
            wall, cpu, acc = bv.run_torchloom(files, init, ns)
            first = ns.epoch_times[0][1]
            later = statistics.mean(c for _, c in ns.epoch_times[1:]) if len(ns.epoch_times) > 1 else float("nan")
            data = statistics.mean(ns.data_times[1:]) if len(ns.data_times) > 1 else float("nan")
            res[name].append((first, later, data, cpu, wall, acc))
            print(f"round {r + 1} {name:16s} epoch1 {first:6.2f} s CPU, later {later:6.2f} (between batches "
                  f"{data:5.2f}), total {cpu:6.2f} CPU / {wall:6.2f} wall, acc {acc:.4f}", flush=True)
    med = {k: [statistics.median(x[i] for x in v) for i in range(6)] for k, v in res.items()}
    base = med.get("default")
    print("\n| configuration | epoch 1 CPU s | later epochs CPU s | of which between batches | total CPU s |"
          " total wall s | accuracy | later vs default |")
    print("|---|---|---|---|---|---|---|---|")
    for k, (f, lt, d, c, w, a) in med.items():
        rel = f"{(lt / base[1] - 1) * 100:+.1f} %" if base else ""
        print(f"| {k} | {f:.2f} | {lt:.2f} | {d:.2f} | {c:.2f} | {w:.2f} | {100 * a:.2f} % | {rel} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
