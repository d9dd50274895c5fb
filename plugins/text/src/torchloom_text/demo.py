"""ULMFiT on Rotten Tomatoes in a few minutes on a CPU: ``python -m torchloom_text.demo``.

Fine-tunes an AWD-LSTM language model on the review snippets (and plot summaries), then trains the
classifier on its encoder with gradual unfreezing, and classifies a few new sentences. ``--quick`` uses a
subset and a tiny model (a smoke run of about a minute).
"""
from __future__ import annotations

import argparse
import tempfile
import time

import torch

SENTENCES = [
    "A gorgeous, funny and deeply moving film; one of the best of the year.",
    "Dull, overlong and badly acted. I wanted my two hours back.",
    "The plot makes no sense and the jokes fall flat.",
    "Smart, warm and beautifully shot, it earns every one of its tears.",
]


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="800 texts and a tiny model (a smoke run)")
    p.add_argument("--lm-epochs", type=int, default=2)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a busy machine)")
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    from torchloom_text import (
        TextDataLoaders,
        language_model_learner,
        rotten_tomatoes,
        text_classifier_learner,
    )

    df = rotten_tomatoes(plots=True)
    if args.quick:
        df = df.sample(800, random_state=args.seed).reset_index(drop=True)
    config = dict(emb_sz=64, n_hid=128, n_layers=2) if args.quick else dict(emb_sz=200, n_hid=400, n_layers=2)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        dls_lm = TextDataLoaders.from_df(df, text_col="text", is_lm=True, valid_pct=0.1, seed=args.seed, bs=64,
                                         path=tmp)
        lm = language_model_learner(dls_lm, config=config, drop_mult=0.5)
        lm.fit_one_cycle(args.lm_epochs, 1e-2)
        print("language model says:", lm.predict("This movie is", n_words=12, temperature=0.75, seed=0))
        lm.save_encoder("finetuned")

        reviews = df[df["label"] != "plot"]
        dls = TextDataLoaders.from_df(reviews, text_col="text", label_col="label", valid_pct=0.2, seed=args.seed,
                                      text_vocab=dls_lm.vocab, bs=64, path=tmp)
        learn = text_classifier_learner(dls, config=config, drop_mult=0.5, encoder="finetuned")
        learn.ulmfit(lr=2e-2, epochs=(1, 1, 1, 1))
        acc = float(learn.validate()[1])
        print(f"\nvalidation accuracy: {acc:.3f}  ({time.perf_counter() - start:.0f} s)")
        preds = {}
        for s in SENTENCES:
            label, _, probs = learn.predict(s)
            preds[s] = (label, float(probs.max()))
            print(f"  {label:>6} ({float(probs.max()):.2f})  {s}")
    return {"accuracy": acc, "predictions": preds}


if __name__ == "__main__":
    main()
