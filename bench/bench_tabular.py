"""torchloom-tabular / torchloom-collab against fastai 2.8 on the same data, split, model sizes, batch size and
epochs, in one run (each contender in its own process, so peak memory is its own):

(a) UCI Adult (train adult.data, validate adult.test), ``layers=[200, 100]``, bs 64, 5 epochs one-cycle lr 1e-2;
(b) procs ``[Categorify, FillMissing, Normalize]`` set up and applied on a synthetic 1,000,000-row frame
    (10 categorical, 10 continuous columns, ~5 % missing values): rows/s and peak memory;
(c) MovieLens ml-latest-small, ``EmbeddingDotBias``, ``n_factors=50``, ``y_range=(0, 5.5)``, bs 64,
    5 epochs one-cycle lr 5e-3 wd 0.1, ``RandomSplitter(0.2, seed=42)`` in both.

    python bench/bench_tabular.py             # all three (about 10 minutes on a shared 2-core box)
    python bench/bench_tabular.py procs       # one part: adult | procs | movielens

One intra-op thread for everyone (the machine is shared); wall and process CPU time are both reported.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

ADULT_CATS = ["workclass", "education", "marital-status", "occupation", "relationship", "race", "sex",
              "native-country"]
ADULT_CONTS = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    res = fn()
    return res, time.perf_counter() - w, time.process_time() - c


def synth_frame(n: int = 1_000_000, seed: int = 0):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    cols = {}
    for k in range(10):
        card = [5, 10, 20, 50, 100, 200, 500, 1000, 3, 30][k]
        vals = np.array([f"c{k}_{i}" for i in range(card)], dtype=object)[rng.integers(0, card, n)]
        vals[rng.random(n) < 0.05] = None
        cols[f"cat{k}"] = vals
    for k in range(10):
        x = rng.normal(k, 1 + k, n)
        x[rng.random(n) < 0.05] = np.nan
        cols[f"cont{k}"] = x
    cols["y"] = rng.integers(0, 2, n)
    return pd.DataFrame(cols)


# --- children ------------------------------------------------------------------------------------------

def child_adult(who: str) -> dict:
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    import torchloom

    a = torchloom.load_dataset("adult")
    df, tr, te = a.combined()
    if who == "torchloom":
        from torchloom_tabular import Categorify, FillMissing, Normalize, TabularPandas, tabular_learner

        from torchloom import accuracy

        def build():
            to = TabularPandas(df, [Categorify, FillMissing, Normalize], ADULT_CATS, ADULT_CONTS, "salary",
                               splits=(tr, te))
            return to.dataloaders(bs=64, device="cpu")
        dls, w0, c0 = _timed(build)
        learn = tabular_learner(dls, layers=[200, 100], metrics=accuracy, progress=False)
        learn.logger = lambda *a: None
        _, w, c = _timed(lambda: learn.fit_one_cycle(5, 1e-2))
        acc = learn.validate()[1]
    else:
        from fastai.tabular.all import (
            Categorify,
            FillMissing,
            Normalize,
            TabularPandas,
            accuracy,
            tabular_learner,
        )

        def build():
            to = TabularPandas(df, [Categorify, FillMissing, Normalize], ADULT_CATS, ADULT_CONTS, "salary",
                               splits=(tr, te))
            return to.dataloaders(bs=64, device="cpu")
        dls, w0, c0 = _timed(build)
        learn = tabular_learner(dls, layers=[200, 100], metrics=accuracy)

        def fit():
            with learn.no_bar(), learn.no_logging():
                learn.fit_one_cycle(5, 1e-2)
        _, w, c = _timed(fit)
        with learn.no_bar():
            acc = float(learn.validate()[1])
    return {"setup_s": w0, "fit_wall_s": w, "fit_cpu_s": c, "accuracy": float(acc)}


def child_procs(who: str) -> dict:
    df = synth_frame()
    cats, conts = [f"cat{k}" for k in range(10)], [f"cont{k}" for k in range(10)]
    n = len(df)
    cut = int(n * 0.8)
    splits = (list(range(cut)), list(range(cut, n)))
    if who == "torchloom":
        from torchloom_tabular import Categorify, FillMissing, Normalize, TabularPandas
    else:
        from fastai.tabular.all import Categorify, FillMissing, Normalize, TabularPandas
    base = _rss_mb()
    _, w, c = _timed(lambda: TabularPandas(df, [Categorify, FillMissing, Normalize], cats, conts, "y",
                                           y_block=None, splits=splits))
    return {"rows": n, "wall_s": w, "cpu_s": c, "rows_per_s": n / w, "rss_before_mb": base, "peak_mb": _peak_mb(),
            "peak_extra_mb": _peak_mb() - base}


def child_movielens(who: str) -> dict:
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    import torchloom

    r = torchloom.load_dataset("movielens")[["userId", "title", "rating"]]
    if who == "torchloom":
        from torchloom_collab import CollabDataLoaders, collab_learner

        from torchloom import rmse

        dls = CollabDataLoaders.from_df(r, item_name="title", bs=64, seed=42, device="cpu")
        learn = collab_learner(dls, n_factors=50, y_range=(0, 5.5), metrics=rmse, progress=False)
        learn.logger = lambda *a: None
        _, w, c = _timed(lambda: learn.fit_one_cycle(5, 5e-3, wd=0.1))
        val = learn.validate()[1]
        n_valid = len(dls.valid.dataset)
    else:
        from fastai.collab import CollabDataLoaders, collab_learner
        from fastai.metrics import rmse

        dls = CollabDataLoaders.from_df(r, item_name="title", bs=64, seed=42, device="cpu")
        learn = collab_learner(dls, n_factors=50, y_range=(0, 5.5), metrics=rmse)

        def fit():
            with learn.no_bar(), learn.no_logging():
                learn.fit_one_cycle(5, 5e-3, wd=0.1)
        _, w, c = _timed(fit)
        with learn.no_bar():
            val = float(learn.validate()[1])
        n_valid = len(dls.valid.dataset)
    return {"fit_wall_s": w, "fit_cpu_s": c, "valid_rmse": float(val), "n_valid": n_valid}


CHILDREN = {"adult": child_adult, "procs": child_procs, "movielens": child_movielens}


def run_child(part: str, who: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", part, who], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{part}/{who} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1])


def main(parts: list[str]) -> None:
    print("machine: shared, 2 cores; one torch thread per contender; each in its own process")
    if "adult" in parts:
        print("\n(a) UCI Adult: layers [200, 100], bs 64, 5 epochs fit_one_cycle(lr=1e-2); valid = adult.test")
        res = {who: run_child("adult", who) for who in ("torchloom", "fastai")}
        for who, r in res.items():
            print(f"  {who:<10} setup {r['setup_s']:6.2f} s  fit wall {r['fit_wall_s']:7.1f} s  "
                  f"cpu {r['fit_cpu_s']:7.1f} s  accuracy {r['accuracy'] * 100:.2f} %")
        t, f = res["torchloom"], res["fastai"]
        print(f"  ratio torchloom/fastai: fit wall {t['fit_wall_s'] / f['fit_wall_s']:.2f}x, cpu "
              f"{t['fit_cpu_s'] / f['fit_cpu_s']:.2f}x; accuracy {100 * (t['accuracy'] - f['accuracy']):+.2f} pt")
    if "procs" in parts:
        print("\n(b) procs [Categorify, FillMissing, Normalize] on 1,000,000 rows (10 cat, 10 cont, 5 % missing)")
        runs: dict[str, list[dict]] = {"torchloom": [], "fastai": []}
        for _ in range(2):  # interleaved rounds
            for who in runs:
                runs[who].append(run_child("procs", who))
        best = {who: min(rs, key=lambda r: r["wall_s"]) for who, rs in runs.items()}
        for who, r in best.items():
            print(f"  {who:<10} wall {r['wall_s']:6.2f} s (best of {len(runs[who])})  cpu {r['cpu_s']:6.2f} s  "
                  f"{r['rows_per_s'] / 1e3:8.0f} k rows/s  peak RSS {r['peak_mb']:6.0f} MB "
                  f"(+{r['peak_extra_mb']:.0f} MB over the input frame)")
        print(f"  ratio rows/s torchloom/fastai: {best['torchloom']['rows_per_s'] / best['fastai']['rows_per_s']:.2f}x;"
              f" peak extra memory {best['torchloom']['peak_extra_mb'] / best['fastai']['peak_extra_mb']:.2f}x")
    if "movielens" in parts:
        print("\n(c) MovieLens ml-latest-small: EmbeddingDotBias n_factors 50, y_range (0, 5.5), bs 64, "
              "5 epochs fit_one_cycle(5e-3, wd=0.1), RandomSplitter(0.2, seed=42)")
        res = {who: run_child("movielens", who) for who in ("torchloom", "fastai")}
        for who, r in res.items():
            print(f"  {who:<10} fit wall {r['fit_wall_s']:7.1f} s  cpu {r['fit_cpu_s']:7.1f} s  "
                  f"valid RMSE {r['valid_rmse']:.4f} ({r['n_valid']} ratings)")
        t, f = res["torchloom"], res["fastai"]
        print(f"  ratio torchloom/fastai: fit wall {t['fit_wall_s'] / f['fit_wall_s']:.2f}x, cpu "
              f"{t['fit_cpu_s'] / f['fit_cpu_s']:.2f}x; RMSE {t['valid_rmse'] - f['valid_rmse']:+.4f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(CHILDREN[sys.argv[2]](sys.argv[3])))
    else:
        wanted = sys.argv[1:] or ["adult", "procs", "movielens"]
        bad = [w for w in wanted if w not in CHILDREN]
        if bad:
            raise SystemExit(f"unknown part(s) {bad}; choose from {list(CHILDREN)}")
        main(wanted)
