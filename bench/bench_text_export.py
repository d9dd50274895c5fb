"""Text classifier exports: parity of ONNX Runtime and torch.export with ``learn.predict`` on real validation
snippets at several batch sizes, and batch-inference throughput (torchloom predict on a CSV column) of the
.onnx, .pt2 and default .safetensors exports against the learner's own get_preds, in one run.

    .tox/text/bin/python bench/bench_text_export.py                      # 4000 snippets, 300 checked
    .tox/text/bin/python bench/bench_text_export.py --rows 1200 --check 60 --epochs 1

The classifier (AWD-LSTM emb 64 / hidden 128 / 2 layers, drop_mult 0.5) is trained from scratch with
``fine_tune(epochs, 1e-2)`` on Rotten Tomatoes snippets (a quarter held out). Parity: the largest absolute
difference of the class probabilities over the ``--check`` validation texts plus two long ones (18 and 80
snippets joined: several BPTT chunks, beyond max_len), batched pad-first by the export's reader. One torch
thread; wall and process CPU time (the machine may be shared).
"""
from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=4000)
    ap.add_argument("--check", type=int, default=300)
    ap.add_argument("--epochs", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(1)

    from torchloom_text import TextDataLoaders, rotten_tomatoes, text_classifier_learner

    from torchloom import accuracy, load_exported, predict_files

    df = rotten_tomatoes().sample(args.rows, random_state=0).reset_index(drop=True)
    df["is_valid"] = np.arange(len(df)) % 4 == 0
    torch.manual_seed(0)
    dls = TextDataLoaders.from_df(df, text_col="text", label_col="label", valid_col="is_valid", bs=32,
                                  n_workers=1, device="cpu")
    tmp = Path(tempfile.mkdtemp())
    learn = text_classifier_learner(dls, config=dict(emb_sz=64, n_hid=128, n_layers=2), drop_mult=0.5,
                                    metrics=accuracy, path=tmp, progress=False)
    t0 = time.perf_counter()
    learn.fine_tune(args.epochs, 1e-2)
    print(f"trained in {time.perf_counter() - t0:.0f} s; valid accuracy {float(learn.validate()[1]):.4f}")
    valid = df[df.is_valid].text.tolist()
    texts = valid[:args.check] + [" ".join(valid[:18]), " ".join(valid[:80])]
    ref = np.stack([learn.predict(t)[2].numpy() for t in texts])
    paths = {"onnx": learn.export(tmp / "rt", format="onnx"), "torch.export": learn.export(tmp / "rt", format="torch.export"),
             "safetensors": learn.export(tmp / "rt")}
    for fmt, path in paths.items():
        model = load_exported(path)
        reader = model.reader()
        ids = [reader(t) for t in texts]
        for bs in (1, 7, 64):
            worst = 0.0
            for i in range(0, len(ids), bs):
                (x,) = reader.collate([(a,) for a in ids[i:i + bs]])
                worst = max(worst, float(np.abs(model(x)[0] - ref[i:i + bs]).max()))
            print(f"{fmt:13s} bs {bs:3d}: max |p - predict| = {worst:.2e} over {len(ids)} texts")
    src = tmp / "texts.csv"
    with open(src, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["text"], *([t] for t in valid)])
    rows = []
    for name, fn in [("get_preds", lambda: learn.get_preds(dl=learn.dls.test_dl(valid))),
                     *[(fmt, lambda p=p: predict_files(p, [src], out=tmp / "p.csv", column="text", batch_size=64,
                                                        progress=False)) for fmt, p in paths.items()]]:
        w, c = time.perf_counter(), time.process_time()
        fn()
        w, c = time.perf_counter() - w, time.process_time() - c
        rows.append(f"{name:13s} {len(valid) / w:7.0f} items/s wall, {len(valid) / c:7.0f} items/s CPU")
    print("\n".join(["throughput on the validation texts (batch 64):", *rows]))


if __name__ == "__main__":
    main()
