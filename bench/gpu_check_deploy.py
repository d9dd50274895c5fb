"""GPU check of the deployment path (run on a lent GPU machine; see the report): a learner trained on CUDA
goes through tta, both portable exports (traced from a CPU copy) and torchloom predict; the exported
outputs on the CPU match the learner's CUDA outputs on the 300 validation images.

    python bench/gpu_check_deploy.py
"""
from __future__ import annotations

import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    from torchloom_vision import (
        ImageDataLoaders,
        PILImageBW,
        SmallResNet,
        aug_transforms,
        fashion_sample_path,
        vision_learner,
    )

    from torchloom import accuracy, load_exported

    assert torch.cuda.is_available(), "no CUDA device"
    print("torch", torch.__version__, torch.cuda.get_device_name(0), flush=True)
    torch.manual_seed(0)
    dls = ImageDataLoaders.from_folder(fashion_sample_path(), img_cls=PILImageBW, bs=32, seed=0,
                                       batch_tfms=aug_transforms(max_warp=0, p_lighting=0.5))
    learn = vision_learner(dls, SmallResNet, metrics=accuracy, progress=False)
    t = time.perf_counter()
    learn.fit_one_cycle(3, 1e-2)
    print(f"trained on {dls.device} in {time.perf_counter() - t:.1f} s; model on {next(learn.model.parameters()).device}")
    preds, targs = learn.get_preds()
    tp, _ = learn.tta()
    print(f"valid accuracy plain {(preds.argmax(1) == targs).float().mean():.4f}  tta {(tp.argmax(1) == targs).float().mean():.4f}")
    files = sorted((fashion_sample_path() / "valid").rglob("*.png"))
    ref = learn.get_preds(dl=learn.dls.test_dl(files))[0].cpu().numpy()
    with tempfile.TemporaryDirectory() as d:
        for fmt in ("torch.export", "onnx"):
            t = time.perf_counter()
            path = learn.export(Path(d) / "m", format=fmt)
            m = load_exported(path)
            r = m.reader()
            out = m(np.stack([r(str(f)) for f in files]))[0]
            err = float(np.abs(out - ref).max())
            agree = float((out.argmax(1) == ref.argmax(1)).mean())
            print(f"{fmt}: export+load {time.perf_counter() - t:.1f} s, max |p - p_cuda| {err:.2e}, argmax agree {agree:.4f}")
            assert err < 5e-3 and agree > 0.99
        out_csv = Path(d) / "preds.csv"
        proc = subprocess.run([str(Path(sys.executable).with_name("torchloom")), "predict", str(Path(d) / "m.onnx"),
                               str(fashion_sample_path() / "valid"), "--out", str(out_csv), "--batch-size", "64"],
                              capture_output=True, text=True)
        print(proc.stderr.strip().splitlines()[-1])
        assert proc.returncode == 0 and sum(1 for _ in csv.reader(open(out_csv))) == len(files) + 1
    print("GPU deploy check OK")


if __name__ == "__main__":
    main()
