"""torchloom-text: fastai's text API (tokenizers, LM loaders, AWD-LSTM, ULMFiT) as a torchloom plugin.

Public names load lazily (PEP 562): the entry point imports only ``torchloom_text.plugin``, so pandas,
``tokenizers`` and the models are imported when a name is first used.
"""
from __future__ import annotations

from torchloom import lazy_exports

_LAZY: dict[str, str] = {
    # rules and special tokens
    "UNK": "rules", "PAD": "rules", "BOS": "rules", "EOS": "rules", "FLD": "rules", "TK_REP": "rules",
    "TK_WREP": "rules", "TK_UP": "rules", "TK_MAJ": "rules", "SPECIAL_TOKENS": "rules", "fix_html": "rules",
    "replace_rep": "rules", "replace_wrep": "rules", "spec_add_spaces": "rules", "rm_useless_spaces": "rules",
    "replace_all_caps": "rules", "replace_maj": "rules", "replace_case": "rules", "lowercase": "rules",
    "DEFAULT_RULES": "rules", "apply_rules": "rules", "decode_spec_tokens": "rules",
    # tokenizers
    "WordTokenizer": "tok", "SubwordTokenizer": "tok", "Tokenizer": "tokenize", "tokenize_texts": "tokenize",
    "tokenize_folder": "tokenize", "TokenizedFolder": "tokenize", "read_text_file": "tokenize", "TitledStr": "tokenize",
    # numericalize and types
    "TensorText": "numericalize", "LMTensorText": "numericalize", "make_vocab": "numericalize",
    "Numericalize": "numericalize",
    # loaders and data
    "LMDataLoader": "loaders", "SortedDL": "loaders", "pad_input_chunk": "loaders", "PadInputChunk": "loaders",
    "TextBlock": "data", "TextDataLoaders": "data", "text_dataloaders": "data", "Field": "data", "TextItem": "data",
    # models
    "AWD_LSTM": "models.awdlstm", "RNNDropout": "models.awdlstm", "WeightDropout": "models.awdlstm",
    "EmbeddingDropout": "models.awdlstm", "LinearDecoder": "models.awdlstm", "SequentialRNN": "models.awdlstm",
    "get_language_model": "models.awdlstm", "awd_lstm_lm_config": "models.awdlstm",
    "awd_lstm_clas_config": "models.awdlstm", "awd_lstm_lm_split": "models.awdlstm",
    "SentenceEncoder": "models.classifier", "masked_concat_pool": "models.classifier",
    "PoolingLinearClassifier": "models.classifier", "get_text_classifier": "models.classifier",
    "awd_lstm_clas_split": "models.classifier",
    # callbacks, metrics, learners
    "ModelResetter": "callbacks", "RNNRegularizer": "callbacks", "GradualUnfreeze": "callbacks",
    "Perplexity": "metrics", "TextLearner": "learner", "LMLearner": "learner",
    "language_model_learner": "learner", "text_classifier_learner": "learner",
    "EncoderMismatchError": "learner", "match_embeds": "learner",
    # portable exports
    "TextReader": "reader",
    # datasets
    "rotten_tomatoes": "datasets", "fortunes": "datasets", "DataNotFoundError": "datasets",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, extra=__all__, dist="torchloom-text")
