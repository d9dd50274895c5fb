"""``language_model_learner``, ``text_classifier_learner`` and ``TextLearner`` (encoder save/load, ULMFiT).

Encoders are saved as safetensors with their vocabulary and architecture in the file's metadata, never
pickled. ``load_encoder`` refuses an encoder of another architecture (naming both) and, when the
classifier's vocabulary differs from the language model's, remaps the embedding rows token by token
(tokens the LM never saw start from the mean embedding), as fastai does for pretrained weights.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from torchloom import CrossEntropyLossFlat, Learner, accuracy, atomic_write, model_factory

from .callbacks import ModelResetter, RNNRegularizer
from .metrics import Perplexity
from .models.awdlstm import AWD_LSTM, awd_lstm_lm_split, get_language_model
from .models.classifier import awd_lstm_clas_split, get_text_classifier
from .rules import UNK, decode_spec_tokens

__all__ = ["TextLearner", "LMLearner", "language_model_learner", "text_classifier_learner", "EncoderMismatchError",
           "create_language_model", "create_text_classifier", "match_embeds"]

_ENC_FORMAT = "torchloom-text/encoder-1"


class EncoderMismatchError(ValueError):
    """A saved encoder does not fit the model (another architecture or other sizes)."""


def _text_vocab(dls: Any) -> list[str]:
    """The token vocabulary of the inputs (from the ``Numericalize`` of the training pipeline)."""
    from .numericalize import Numericalize

    for t in dls.train_ds.tls[0].tfms.fs:
        if isinstance(t, Numericalize) and t.vocab is not None:
            return list(t.vocab)
    raise TypeError("these DataLoaders have no set-up Numericalize transform (build them with TextDataLoaders)")


def _arch_name(arch: Any) -> str:
    if arch in (AWD_LSTM, "awd_lstm", "AWD_LSTM"):
        return "AWD_LSTM"
    raise ValueError(f"unknown text architecture {arch!r}: available: AWD_LSTM (or 'awd_lstm')")


@model_factory
def create_language_model(vocab_sz: int, config: dict | None = None, drop_mult: float = 1.0) -> nn.Module:
    """The AWD-LSTM language model (rebuilt by ``load_learner`` from the exported spec)."""
    return get_language_model(vocab_sz, config=config, drop_mult=drop_mult)


@model_factory
def create_text_classifier(vocab_sz: int, n_class: int, seq_len: int = 72, config: dict | None = None,
                           drop_mult: float = 0.5, lin_ftrs: list[int] | None = None, ps: list[float] | None = None,
                           max_len: int | None = 72 * 20, pad_idx: int = 1) -> nn.Module:
    """The ULMFiT classifier (rebuilt by ``load_learner`` from the exported spec)."""
    return get_text_classifier(vocab_sz, n_class, seq_len=seq_len, config=config, drop_mult=drop_mult,
                               lin_ftrs=lin_ftrs, ps=ps, max_len=max_len, pad_idx=pad_idx)


def match_embeds(old_wgts: dict[str, Tensor], old_vocab: list[str], new_vocab: list[str]) -> dict[str, Tensor]:
    """Rows of the embedding (and of a tied decoder's bias when present) reordered from ``old_vocab`` to
    ``new_vocab``; tokens missing from ``old_vocab`` get the mean row."""
    wgts = dict(old_wgts)
    enc = wgts["encoder.weight"]
    mean = enc.mean(0)
    new_w = enc.new_zeros((len(new_vocab), enc.size(1)))
    o2i = {}
    for i, w in enumerate(old_vocab):
        o2i.setdefault(w, i)
    for i, w in enumerate(new_vocab):
        j = o2i.get(w)
        new_w[i] = enc[j] if j is not None else mean
    wgts["encoder.weight"] = new_w
    return wgts


class TextLearner(Learner):
    """A ``Learner`` for AWD-LSTM models: resets the hidden state, adds AR/TAR (``alpha``, ``beta``), and
    saves/loads the encoder (``save_encoder``/``load_encoder``) for the ULMFiT transfer."""

    def __init__(self, dls: Any, model: nn.Module, alpha: float = 2.0, beta: float = 1.0,
                 moms: tuple[float, ...] = (0.8, 0.7, 0.8), **kwargs: Any) -> None:
        super().__init__(dls, model, moms=moms, **kwargs)
        self.add_cbs([ModelResetter(), RNNRegularizer(alpha=alpha, beta=beta)])

    # --- encoder ---------------------------------------------------------------------------------------
    def _encoder(self) -> AWD_LSTM:
        m = self.model[0]
        enc = getattr(m, "module", m)
        if not isinstance(enc, AWD_LSTM):
            raise TypeError(f"this learner's model has no AWD_LSTM encoder (found {type(enc).__name__})")
        return enc

    def _encoder_file(self, file: str | os.PathLike[str]) -> Path:
        p = Path(file)
        if not p.is_absolute():
            p = self.path / self.model_dir / p
        return p if p.suffix == ".safetensors" else p.with_name(p.name + ".safetensors")

    def save_encoder(self, file: str | os.PathLike[str]) -> Path:
        """Write the encoder's weights, vocabulary and sizes to ``path/model_dir/file.safetensors`` (atomically)."""
        from safetensors.torch import save

        enc = self._encoder()
        sd = {k: v.detach().cpu().contiguous() for k, v in enc.state_dict().items() if not k.startswith("encoder_dp.")}
        meta = {"format": _ENC_FORMAT, "arch": type(enc).__name__,
                "sizes": json.dumps({"emb_sz": enc.emb_sz, "n_hid": enc.n_hid, "n_layers": enc.n_layers}),
                "vocab": json.dumps(_text_vocab(self.dls))}
        path = self._encoder_file(file)
        data = save(sd, metadata=meta)
        with atomic_write(path, "wb") as f:
            f.write(data)
        return path

    def load_encoder(self, file: str | os.PathLike[str], device: Any = None) -> TextLearner:
        """Load an encoder saved by ``save_encoder`` into this model (embedding rows remapped by token when the
        vocabularies differ); another architecture or other sizes raise ``EncoderMismatchError``."""
        from safetensors import safe_open

        path = self._encoder_file(file)
        if not path.is_file():
            raise FileNotFoundError(f"load_encoder: no encoder file {path}")
        try:
            with safe_open(str(path), framework="pt", device="cpu") as f:
                meta = f.metadata() or {}
                wgts = {k: f.get_tensor(k) for k in f.keys()}
        except Exception as e:
            raise ValueError(f"load_encoder: {path} is not a safetensors encoder file: {e}") from e
        if meta.get("format") != _ENC_FORMAT:
            raise ValueError(f"load_encoder: {path} was not written by save_encoder (format "
                             f"{meta.get('format')!r})")
        enc = self._encoder()
        mine = {"arch": type(enc).__name__, "emb_sz": enc.emb_sz, "n_hid": enc.n_hid, "n_layers": enc.n_layers}
        sizes = json.loads(meta.get("sizes", "{}"))
        theirs = {"arch": meta.get("arch"), **sizes}
        if theirs != mine:
            raise EncoderMismatchError(f"load_encoder: {path} holds a {_describe(theirs)} encoder, but this "
                                       f"model's encoder is a {_describe(mine)}")
        old_vocab = json.loads(meta["vocab"])
        new_vocab = _text_vocab(self.dls)
        if old_vocab != new_vocab:
            wgts = match_embeds(wgts, old_vocab, new_vocab)
        wgts["encoder_dp.emb.weight"] = wgts["encoder.weight"]
        dev = next(enc.parameters()).device if device is None else device
        enc.load_state_dict({k: v.to(dev) for k, v in wgts.items()})
        self.freeze()
        return self

    # --- ULMFiT ----------------------------------------------------------------------------------------
    def ulmfit(self, lr: float = 2e-2, epochs: tuple[int, int, int, int] | int = (1, 1, 1, 2),
               lr_decay: float = 2.6, **kwargs: Any) -> TextLearner:
        """The ULMFiT classifier recipe: train the head, then the last two, three, then all layer groups, each
        stage one ``fit_one_cycle`` with discriminative rates ``slice(lr_k / lr_decay**4, lr_k)``
        (``lr_k`` = ``lr``, ``lr/2``, ``lr/4``, ``lr/20``: fastai's course recipe, 2e-2 ... 1e-3)."""
        eps = (epochs,) * 4 if isinstance(epochs, int) else tuple(epochs)
        if len(eps) != 4:
            raise ValueError(f"ulmfit: epochs needs one count per stage (4), got {epochs!r}")
        n_groups = len(self.splitter(self.model))
        stages = [(-1, lr), (-2, lr / 2), (-3, lr / 4), (0, lr / 20)]
        for (n, lr_k), ep in zip(stages, eps):
            if ep <= 0:
                continue
            self.freeze_to(n if -n < n_groups else 0)
            self.fit_one_cycle(ep, lr_k if n == -1 else slice(lr_k / lr_decay**4, lr_k), **kwargs)
        return self


def _describe(d: dict) -> str:
    return f"{d.get('arch')} (emb_sz={d.get('emb_sz')}, n_hid={d.get('n_hid')}, n_layers={d.get('n_layers')})"


class LMLearner(TextLearner):
    """A ``TextLearner`` for language models: ``predict`` generates text."""

    def predict(self, text: str, n_words: int = 1, no_unk: bool = True, temperature: float = 1.0,
                min_p: float | None = None, decoder: Callable[[list[str]], str] | None = decode_spec_tokens,
                seed: int | None = None, only_last_word: bool = False) -> str:  # type: ignore[override]
        """``text`` continued by ``n_words`` tokens sampled at ``temperature`` (``xxunk`` never, with ``no_unk``)."""
        tok, num = _text_tfms(self.dls)
        toks = tok(text) if isinstance(text, str) else list(text)
        if toks and toks[-1] == "xxeos":
            toks = toks[:-1]
        idxs = num(toks).as_subclass(Tensor)
        vocab = num.vocab
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        self.model.eval()
        self.model.reset()
        dev = next(self.model.parameters()).device
        new: list[int] = []
        banned = torch.tensor([w in ("xxfake", "xxpad") or (no_unk and w == UNK) for w in vocab])
        with torch.no_grad():
            out = self.model(idxs[None].to(dev))
            for _ in range(n_words):
                logits = out[0, -1].float().cpu().masked_fill(banned, -float("inf"))
                probs = torch.softmax(logits / max(temperature, 1e-6), dim=-1)
                if min_p is not None and (probs >= min_p).any():
                    probs[probs < min_p] = 0.0
                nxt = int(torch.multinomial(probs, 1, generator=gen))
                new.append(nxt)
                out = self.model(torch.tensor([[nxt]], device=dev))
        words = [vocab[i] for i in (new if only_last_word else idxs.tolist() + new)]
        if decoder is None:
            return " ".join(words)
        return decoder(words)


def _text_tfms(dls: Any) -> tuple[Any, Any]:
    from .numericalize import Numericalize
    from .tokenize import Tokenizer

    fs = dls.train_ds.tls[0].tfms.fs
    tok = next((t for t in fs if isinstance(t, Tokenizer)), None)
    num = next((t for t in fs if isinstance(t, Numericalize)), None)
    if tok is None or num is None:
        raise TypeError("these DataLoaders have no Tokenizer/Numericalize (build them with TextDataLoaders)")
    return tok, num


def language_model_learner(dls: Any, arch: Any = AWD_LSTM, config: dict | None = None, drop_mult: float = 1.0,
                           pretrained: bool = False, pretrained_fnames: tuple[str, str] | None = None,
                           metrics: Any = None, **kwargs: Any) -> LMLearner:
    """An ``LMLearner`` with an AWD-LSTM language model sized for ``dls``'s vocabulary.

    Metrics default to accuracy and perplexity. No pretrained weights are downloaded; with
    ``pretrained_fnames=(weights, vocab_json)`` (e.g. fastai's WikiText-103 AWD-LSTM converted to
    safetensors) the weights are loaded with their embedding rows matched to this vocabulary.
    """
    _arch_name(arch)
    vocab = _text_vocab(dls)
    model = create_language_model(len(vocab), config=config, drop_mult=drop_mult)
    spec = {"factory": "torchloom_text.learner:create_language_model",
            "kwargs": {"vocab_sz": len(vocab), "config": config, "drop_mult": drop_mult}}
    if metrics is None:
        metrics = [accuracy, Perplexity()]
    learn = LMLearner(dls, model, loss_func=CrossEntropyLossFlat(), splitter=awd_lstm_lm_split, metrics=metrics,
                      model_spec=spec, **kwargs)
    if pretrained or pretrained_fnames is not None:
        if pretrained_fnames is None:
            raise ValueError("language_model_learner: no pretrained weights ship offline; pass "
                             "pretrained_fnames=(weights.safetensors, vocab.json) of a model you downloaded")
        _load_pretrained(learn, *pretrained_fnames)
        learn.freeze()
    return learn


def _load_pretrained(learn: LMLearner, wgts_fname: str, vocab_fname: str) -> None:
    from safetensors.torch import load_file

    old_vocab = json.loads(Path(vocab_fname).read_text(encoding="utf-8"))
    wgts = load_file(str(wgts_fname))
    enc_w = {k[len("0."):]: v for k, v in wgts.items() if k.startswith("0.")}
    enc_w = match_embeds(enc_w, old_vocab, _text_vocab(learn.dls))
    enc_w["encoder_dp.emb.weight"] = enc_w["encoder.weight"]
    learn.model[0].load_state_dict(enc_w)


def text_classifier_learner(dls: Any, arch: Any = AWD_LSTM, seq_len: int = 72, config: dict | None = None,
                            drop_mult: float = 0.5, n_out: int | None = None, lin_ftrs: list[int] | None = None,
                            ps: list[float] | None = None, max_len: int | None = 72 * 20,
                            encoder: str | os.PathLike[str] | None = None, metrics: Any = None, **kwargs: Any
                            ) -> TextLearner:
    """A ``TextLearner`` with the ULMFiT classifier; ``encoder=`` loads a fine-tuned LM encoder and freezes.

    Texts longer than ``max_len`` tokens are read whole, but only their last ``max_len`` tokens feed the
    pooling and the gradient. Metrics default to accuracy.
    """
    _arch_name(arch)
    vocab = _text_vocab(dls)
    if n_out is None:
        n_out = dls.c
    pad_idx = vocab.index("xxpad") if "xxpad" in vocab else 1
    kw = {"vocab_sz": len(vocab), "n_class": int(n_out), "seq_len": seq_len, "config": config, "drop_mult": drop_mult,
          "lin_ftrs": lin_ftrs, "ps": ps, "max_len": max_len, "pad_idx": pad_idx}
    model = create_text_classifier(**kw)
    spec = {"factory": "torchloom_text.learner:create_text_classifier", "kwargs": kw}
    learn = TextLearner(dls, model, splitter=awd_lstm_clas_split, metrics=accuracy if metrics is None else metrics,
                        model_spec=spec, **kwargs)
    if encoder is not None:
        learn.load_encoder(encoder)
    return learn
