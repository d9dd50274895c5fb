"""torchloom-text vs fastai 2.8 on the same data, splits, model sizes, batch size and epochs.

    python bench/bench_text.py             # (a) tokenization, (b) ULMFiT three stages, (c) classifier from scratch
    python bench/bench_text.py --medium    # smaller model and LM corpora, the full classification set
    python bench/bench_text.py --quick     # a smoke run on subsets (minutes)
    python bench/bench_text.py tok         # only (a)

(a) tokens/s of each library's default word tokenizer (rules included) on the whole corpus (Rotten
Tomatoes texts + Debian fortunes), in one process and with 2 worker processes.
(b) ULMFiT: LM pretrained on fortunes -> LM fine-tuned on the review texts (embeddings remapped to the new
vocab) -> classifier with gradual unfreezing (fastai's course recipe: 2e-2, 1e-2, 5e-3, 1e-3).
(c) the same classifier from random weights, 4 epochs of one-cycle at 1e-2.

Every stage of each side runs in its own process (state is handed over through files), the two sides
alternating stage by stage so that the load of the shared machine hits both alike; one torch thread
each (two contended threads are several times slower on the shared 2-core machine). Wall and CPU times
(the process and its tokenizer workers) are printed side by side with the ratio torchloom / fastai.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FULL = dict(emb_sz=200, n_hid=400, n_layers=2, bs=64, seq_len=72, max_vocab=8000, fortunes=None, rt=None,
            lm_epochs=1, ft_epochs=(1, 1), clf_epochs=(1, 1, 1, 1), scratch_epochs=4)
# what fits the shared 2-core machine in well under an hour while 7 other engineers use it (BENCHMARKS.md)
MEDIUM = dict(emb_sz=100, n_hid=200, n_layers=2, bs=64, seq_len=72, max_vocab=4000, fortunes=4000, rt=5000,
              lm_epochs=1, ft_epochs=(1, 1), clf_epochs=(1, 1, 1, 1), scratch_epochs=4, clf_full=True)
QUICK = dict(emb_sz=32, n_hid=64, n_layers=2, bs=32, seq_len=36, max_vocab=3000, fortunes=1500, rt=2000,
             lm_epochs=1, ft_epochs=(1, 1), clf_epochs=(1, 1, 1, 1), scratch_epochs=2)


# --- data (written once by the parent, read by both sides) -------------------------------------------------

def make_data(work: Path, cfg: dict) -> None:
    import numpy as np
    import pandas as pd
    from torchloom_text import fortunes, rotten_tomatoes

    rng = np.random.default_rng(0)
    fo = pd.DataFrame({"text": fortunes()})
    if cfg["fortunes"]:
        fo = fo.sample(cfg["fortunes"], random_state=0)
    fo["is_valid"] = rng.random(len(fo)) < 0.1
    full = rotten_tomatoes(plots=True)
    rt_all = full.sample(cfg["rt"], random_state=0) if cfg["rt"] else full
    rt_all["is_valid"] = rng.random(len(rt_all)) < 0.1
    clf = (full if cfg.get("clf_full") else rt_all)
    clf = clf[clf["label"] != "plot"].copy()
    clf["is_valid"] = rng.random(len(clf)) < 0.2
    fo.to_csv(work / "fortunes.csv", index=False)
    rt_all[["text", "is_valid"]].to_csv(work / "rt_lm.csv", index=False)
    clf[["text", "label", "is_valid"]].to_csv(work / "rt_clf.csv", index=False)


# --- one stage of one side (run in a child process) --------------------------------------------------------

def _ours(stage: str, work: Path, cfg: dict) -> dict:
    import pandas as pd
    from torchloom_text import TextDataLoaders, language_model_learner, text_classifier_learner

    arch = dict(emb_sz=cfg["emb_sz"], n_hid=cfg["n_hid"], n_layers=cfg["n_layers"])
    kw = dict(bs=cfg["bs"], seq_len=cfg["seq_len"], max_vocab=cfg["max_vocab"], device="cpu", path=work)
    if stage in ("pretrain", "finetune"):
        df = pd.read_csv(work / ("fortunes.csv" if stage == "pretrain" else "rt_lm.csv"))
        dls = TextDataLoaders.from_df(df, text_col="text", is_lm=True, valid_col="is_valid", n_workers=2, **kw)
        learn = language_model_learner(dls, config=arch, drop_mult=0.5, progress=False)
        if stage == "pretrain":
            learn.unfreeze()
            learn.fit_one_cycle(cfg["lm_epochs"], 2e-2)
            learn.save_encoder("ours_pre")
        else:
            learn.load_encoder("ours_pre")  # embedding rows remapped to the review vocabulary; frozen
            learn.fit_one_cycle(cfg["ft_epochs"][0], 2e-2)
            learn.unfreeze()
            learn.fit_one_cycle(cfg["ft_epochs"][1], 2e-3)
            learn.save_encoder("ours_ft")
            (work / "ours_vocab.json").write_text(json.dumps(dls.vocab))
        loss, acc, ppl = learn.validate()
        return {"valid_loss": float(loss), "accuracy": float(acc), "perplexity": float(ppl)}
    df = pd.read_csv(work / "rt_clf.csv")
    vocab = json.loads((work / "ours_vocab.json").read_text()) if stage == "classifier" else None
    dls = TextDataLoaders.from_df(df, text_col="text", label_col="label", valid_col="is_valid", text_vocab=vocab,
                                  n_workers=2, **kw)
    learn = text_classifier_learner(dls, config=arch, drop_mult=0.5, progress=False)
    if stage == "classifier":
        learn.load_encoder("ours_ft")
        learn.ulmfit(lr=2e-2, epochs=cfg["clf_epochs"])
    else:
        learn.fit_one_cycle(cfg["scratch_epochs"], 1e-2)
    return {"accuracy": float(learn.validate()[1])}


def _fastai(stage: str, work: Path, cfg: dict) -> dict:
    import pickle

    import pandas as pd
    from fastai.text.all import (
        AWD_LSTM,
        CategoryBlock,
        ColReader,
        ColSplitter,
        DataBlock,
        Perplexity,
        TextBlock,
        accuracy,
        awd_lstm_clas_config,
        awd_lstm_lm_config,
        language_model_learner,
        text_classifier_learner,
    )

    sizes = dict(emb_sz=cfg["emb_sz"], n_hid=cfg["n_hid"], n_layers=cfg["n_layers"])
    bs, sl, mv = cfg["bs"], cfg["seq_len"], cfg["max_vocab"]
    if stage in ("pretrain", "finetune"):
        df = pd.read_csv(work / ("fortunes.csv" if stage == "pretrain" else "rt_lm.csv"))
        blk = TextBlock.from_df("text", is_lm=True, seq_len=sl, max_vocab=mv, n_workers=2)
        dls = DataBlock(blocks=blk, get_x=ColReader("text"), splitter=ColSplitter("is_valid")).dataloaders(
            df, bs=bs, seq_len=sl, path=work, device="cpu")
        config = {**awd_lstm_lm_config, **sizes}
        if stage == "pretrain":
            learn = language_model_learner(dls, AWD_LSTM, config=config, drop_mult=0.5, pretrained=False,
                                           metrics=[accuracy, Perplexity()], path=work)
            learn.fit_one_cycle(cfg["lm_epochs"], 2e-2)
            learn.save("fastai_pre", with_opt=False)
            with open(work / "models" / "fastai_pre_vocab.pkl", "wb") as f:
                pickle.dump(dls.vocab, f)
        else:
            learn = language_model_learner(dls, AWD_LSTM, config=config, drop_mult=0.5, metrics=[accuracy, Perplexity()],
                                           path=work, pretrained_fnames=["fastai_pre", "fastai_pre_vocab"])
            learn.freeze()
            learn.fit_one_cycle(cfg["ft_epochs"][0], 2e-2)
            learn.unfreeze()
            learn.fit_one_cycle(cfg["ft_epochs"][1], 2e-3)
            learn.save_encoder("fastai_ft")
            with open(work / "fastai_vocab.pkl", "wb") as f:
                pickle.dump(dls.vocab, f)
        loss, acc, ppl = learn.validate()
        return {"valid_loss": float(loss), "accuracy": float(acc), "perplexity": float(ppl)}
    df = pd.read_csv(work / "rt_clf.csv")
    vocab = None
    if stage == "classifier":
        with open(work / "fastai_vocab.pkl", "rb") as f:
            vocab = pickle.load(f)
    blk = TextBlock.from_df("text", vocab=vocab, seq_len=sl, max_vocab=mv, n_workers=2)
    dls = DataBlock(blocks=(blk, CategoryBlock), get_x=ColReader("text"), get_y=ColReader("label"),
                    splitter=ColSplitter("is_valid")).dataloaders(df, bs=bs, seq_len=sl, path=work, device="cpu")
    learn = text_classifier_learner(dls, AWD_LSTM, config={**awd_lstm_clas_config, **sizes}, drop_mult=0.5,
                                    pretrained=False, metrics=accuracy, path=work)
    if stage == "classifier":
        learn.load_encoder("fastai_ft")
        learn.freeze()
        lr = 2e-2
        learn.fit_one_cycle(cfg["clf_epochs"][0], lr)
        learn.freeze_to(-2)
        learn.fit_one_cycle(cfg["clf_epochs"][1], slice(lr / 2 / 2.6**4, lr / 2))
        learn.freeze_to(-3)
        learn.fit_one_cycle(cfg["clf_epochs"][2], slice(lr / 4 / 2.6**4, lr / 4))
        learn.unfreeze()
        learn.fit_one_cycle(cfg["clf_epochs"][3], slice(lr / 20 / 2.6**4, lr / 20))
    else:
        learn.fit_one_cycle(cfg["scratch_epochs"], 1e-2)
    return {"accuracy": float(learn.validate()[1])}


def worker(side: str, stage: str, work: Path, cfg: dict) -> None:
    import torch

    if side == "fastai":  # no progress bars on either side (torchloom's learners get progress=False)
        from fastai.callback.progress import ProgressCallback
        from fastai.learner import defaults

        defaults.callbacks = [c for c in defaults.callbacks if c is not ProgressCallback]

    torch.set_num_threads(1)
    torch.manual_seed(0)
    t0, c0 = time.perf_counter(), time.process_time()
    res = (_ours if side == "ours" else _fastai)(stage, work, cfg)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    res.update(wall=time.perf_counter() - t0, cpu=time.process_time() - c0 + ch.ru_utime + ch.ru_stime)
    (work / f"{side}_{stage}.json").write_text(json.dumps(res))


# --- (a) tokenization ------------------------------------------------------------------------------------

def bench_tokenization(work: Path) -> None:
    code = r'''
import json, sys, time, resource, pandas as pd
side, n_workers, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
texts = pd.read_csv("rt_lm.csv").text.tolist() + pd.read_csv("fortunes.csv").text.tolist()
if side == "ours":
    from torchloom_text import tokenize_texts
    run = lambda: tokenize_texts(texts, n_workers=n_workers, progress=False)
else:
    from fastai.text.core import tokenize_texts
    run = lambda: tokenize_texts(texts, n_workers=n_workers)
t0, c0 = time.perf_counter(), time.process_time()
toks = list(run())
wall = time.perf_counter() - t0
ch = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = time.process_time() - c0 + ch.ru_utime + ch.ru_stime
json.dump({"wall": wall, "cpu": cpu, "n_tokens": sum(len(t) for t in toks), "n_docs": len(toks),
           "toks": [list(t) for t in toks]}, open(out, "w"))
'''
    print("\n== (a) tokenization throughput: whole corpus (Rotten Tomatoes texts + fortunes), rules included")
    res = {}
    for n_workers in (1, 2):  # fastai: n_workers=1 still runs one worker process; 0 = in this process
        for side in ("ours", "fastai"):
            nw = n_workers if side == "ours" else (0 if n_workers == 1 else n_workers)
            out = work / f"tok_{side}_{n_workers}.json"
            subprocess.run([sys.executable, "-c", code, side, str(nw), str(out)], cwd=work, check=True)
            res[(side, n_workers)] = json.loads(out.read_text())
    for n_workers in (1, 2):
        o, f = res[("ours", n_workers)], res[("fastai", n_workers)]
        print(f"  {n_workers} process{'es' if n_workers > 1 else ''}: torchloom {o['n_tokens'] / o['wall']:>10,.0f} tok/s "
              f"(wall {o['wall']:.1f} s, cpu {o['cpu']:.1f} s) | fastai+spaCy {f['n_tokens'] / f['wall']:>9,.0f} tok/s "
              f"(wall {f['wall']:.1f} s, cpu {f['cpu']:.1f} s) | speed-up {f['wall'] / o['wall']:.1f}x wall, "
              f"{f['cpu'] / o['cpu']:.1f}x cpu")
    o, f = res[("ours", 1)], res[("fastai", 1)]
    same = sum(a == b for a, b in zip(o["toks"], f["toks"]))
    print(f"  {o['n_docs']:,} documents, {o['n_tokens']:,} tokens (fastai: {f['n_tokens']:,}); identical token "
          f"lists for {same / o['n_docs']:.1%} of the documents")


# --- parent --------------------------------------------------------------------------------------------------

STAGES = [("pretrain", "(b1) LM pretrain on fortunes"), ("finetune", "(b2) LM fine-tune on reviews"),
          ("classifier", "(b3) classifier, gradual unfreezing"), ("scratch", "(c)  classifier from scratch")]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _, _, side, stage, work, cfg = sys.argv
        worker(side, stage, Path(work), json.loads(cfg))
        return
    quick = "--quick" in sys.argv
    only = [a for a in sys.argv[1:] if not a.startswith("--")]
    cfg = QUICK if quick else MEDIUM if "--medium" in sys.argv else FULL
    work = Path(tempfile.mkdtemp(prefix="bench_text_"))
    size = "quick" if quick else "medium" if cfg is MEDIUM else "full"
    print(f"torchloom-text vs fastai 2.8.12 ({size} sizes): {json.dumps(cfg)}", flush=True)
    print(f"machine: {os.cpu_count()} CPUs, shared with other jobs; one torch thread per side; work dir {work}")
    make_data(work, cfg)
    if not only or "tok" in only:
        bench_tokenization(work)
    if only and "ulmfit" not in only:
        return
    print("\n== (b) ULMFiT and (c) from scratch: each stage of each side in its own process, alternating")
    res: dict = {}
    for stage, title in STAGES:
        for side in ("ours", "fastai"):
            subprocess.run([sys.executable, __file__, "--worker", side, stage, str(work), json.dumps(cfg)],
                           check=True, stdout=subprocess.DEVNULL if not quick else None)
            res[(side, stage)] = json.loads((work / f"{side}_{stage}.json").read_text())
        o, f = res[("ours", stage)], res[("fastai", stage)]
        metric = "perplexity" if "perplexity" in o else "accuracy"
        fmt = (lambda v: f"{v:8.2f}") if metric == "perplexity" else (lambda v: f"{v:8.2%}")
        print(f"  {title:<40} {metric}: torchloom {fmt(o[metric])} fastai {fmt(f[metric])} | wall "
              f"{o['wall']:7.1f} s vs {f['wall']:7.1f} s ({o['wall'] / f['wall']:.2f}x) | cpu {o['cpu']:7.1f} s vs "
              f"{f['cpu']:7.1f} s ({o['cpu'] / f['cpu']:.2f}x)", flush=True)
    ulm = [s for s, _ in STAGES[:3]]
    ow, fw = sum(res[("ours", s)]["wall"] for s in ulm), sum(res[("fastai", s)]["wall"] for s in ulm)
    oc, fc = sum(res[("ours", s)]["cpu"] for s in ulm), sum(res[("fastai", s)]["cpu"] for s in ulm)
    oa, fa = res[("ours", "classifier")]["accuracy"], res[("fastai", "classifier")]["accuracy"]
    print(f"\n  ULMFiT total (b1-b3): wall {ow:.0f} s vs {fw:.0f} s = {ow / fw:.2f}x; cpu {oc:.0f} s vs {fc:.0f} s = "
          f"{oc / fc:.2f}x; classifier accuracy {oa:.2%} vs {fa:.2%} ({(oa - fa) * 100:+.1f} pt)")
    sa, sf = res[("ours", "scratch")]["accuracy"], res[("fastai", "scratch")]["accuracy"]
    print(f"  pretraining buys: torchloom {(oa - sa) * 100:+.1f} pt, fastai {(fa - sf) * 100:+.1f} pt over the "
          "classifier trained from scratch")


if __name__ == "__main__":
    main()
