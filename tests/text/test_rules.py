"""fastai's text rules, the word/subword tokenizers and corpus tokenization (parallel, cached, bad input)."""
from __future__ import annotations

import pytest
from torchloom_text import (
    DEFAULT_RULES,
    TK_MAJ,
    TK_REP,
    TK_UP,
    TK_WREP,
    UNK,
    SubwordTokenizer,
    Tokenizer,
    WordTokenizer,
    apply_rules,
    decode_spec_tokens,
    fix_html,
    lowercase,
    replace_all_caps,
    replace_case,
    replace_maj,
    replace_rep,
    replace_wrep,
    rm_useless_spaces,
    spec_add_spaces,
    tokenize_folder,
    tokenize_texts,
)


def test_fix_html():
    assert fix_html("#39;bli#146;") == "'bli'"
    assert fix_html("Sarah amp; Duck...") == "Sarah & Duck …"
    assert fix_html("a nbsp; #36;") == "a   $"
    assert fix_html('\\" <unk>') == f'" {UNK}'
    assert fix_html(" @.@  @-@ ") == ".-"
    assert fix_html("<br />text\\n") == "\ntext\n"
    assert fix_html("caf&eacute;") == "café"


def test_repetition_rules():
    assert replace_rep("aa") == "aa"
    assert replace_rep("aaaa") == f" {TK_REP} 4 a "
    assert replace_wrep("ah ah") == "ah ah"
    assert replace_wrep("ah ah ah") == f" {TK_WREP} 3 ah "
    assert replace_wrep("ah ah ah ah ") == f" {TK_WREP} 4 ah  "
    assert replace_wrep("ah ah ah ah.") == f" {TK_WREP} 4 ah ."
    assert replace_wrep("ah ah ahi") == "ah ah ahi"


def test_spacing_rules():
    assert spec_add_spaces("#fastai") == " # fastai"
    assert spec_add_spaces("/fastai") == " / fastai"
    assert spec_add_spaces("\\fastai") == " \\ fastai"
    assert rm_useless_spaces("a  b   c") == "a b c"


def test_case_rules():
    assert replace_all_caps("I'M SHOUTING") == f"{TK_UP} i'm {TK_UP} shouting"
    assert replace_all_caps("I'm speaking normally") == "I'm speaking normally"
    assert replace_all_caps("I am speaking normally") == "i am speaking normally"
    assert replace_maj("Jeremy Howard") == f"{TK_MAJ} jeremy {TK_MAJ} howard"
    assert replace_maj("I don't think there is any maj here") == "i don't think there is any maj here"
    assert lowercase("This is a test ") == "xxbos this is a test"


def test_one_pass_case_rule_equals_fastais_two(rt_df):
    """replace_case (one regex pass) gives exactly replace_maj(replace_all_caps(t)) on real text."""
    texts = rt_df["text"].tolist()[:3000] + ["McDonald's USA-made I A OK. Ok NASA's", "ÉCOLE Über x"]
    for t in texts:
        assert replace_case(t) == replace_maj(replace_all_caps(t)), t


def test_word_tokenizer_splits_like_spacy_english():
    tok = Tokenizer()
    assert tok("I don't think it's THAT good... Really!!!") == [
        "xxbos", "i", "do", "n't", "think", "it", "'s", TK_UP, "that", "good", "…", TK_MAJ, "really",
        TK_REP, "3", "!"]
    assert WordTokenizer()(["a well-made film (the u.s. cut), 12:30; she'll"])[0] == [
        "a", "well", "-", "made", "film", "(", "the", "u.s.", "cut", ")", ",", "12:30", ";", "she", "'ll"]


def test_tokenizer_decodes_and_spec_tokens_undo_rules():
    tok = Tokenizer()
    toks = tok("Hello WORLD!!!!")
    assert toks == ["xxbos", TK_MAJ, "hello", TK_UP, "world", TK_REP, "4", "!"]
    assert tok.decode(toks) == "xxbos xxmaj hello xxup world xxrep 4 !"
    assert decode_spec_tokens(toks) == "Hello WORLD !!!!"


def test_tokenize_texts_parallel_equals_serial(rt_df):
    texts = rt_df["text"].tolist()[:600]
    serial = tokenize_texts(texts, n_workers=1)
    parallel = tokenize_texts(texts, n_workers=2, chunksize=100)
    assert parallel == serial
    assert all(t[0] == "xxbos" for t in serial)


def test_empty_text_and_bad_items():
    assert tokenize_texts(["", "  "], n_workers=1) == [["xxbos"], ["xxbos"]]
    with pytest.raises(TypeError, match="text 1 is missing"):
        tokenize_texts(["fine", float("nan")], n_workers=1)
    with pytest.raises(TypeError, match="text 0 is a int"):
        tokenize_texts([3], n_workers=1)


def _write_corpus(root, texts):
    for i, (lab, t) in enumerate(texts):
        (root / "train" / lab).mkdir(parents=True, exist_ok=True)
        (root / "train" / lab / f"{i}.txt").write_text(t, encoding="utf-8")


def test_tokenize_folder_is_cached_and_invalidated(tmp_path):
    root = tmp_path / "corpus"
    _write_corpus(root, [("pos", "Great MOVIE!"), ("neg", "Bad film."), ("neg", "Boring...")])
    first = tokenize_folder(root, n_workers=1)
    assert not first.from_cache and first.path == tmp_path / "corpus_tok"
    assert first.tokens[first.files.index("train/pos/0.txt")] == ["xxbos", TK_MAJ, "great", TK_UP, "movie", "!"]
    assert first.counter["xxbos"] == 3
    again = tokenize_folder(root, n_workers=1)
    assert again.from_cache and again.tokens == first.tokens and again.counter == first.counter
    (root / "train" / "neg" / "1.txt").write_text("Now it is good, really good.", encoding="utf-8")
    changed = tokenize_folder(root, n_workers=1)
    assert not changed.from_cache
    assert "really" in changed.tokens[changed.files.index("train/neg/1.txt")]


def test_tokenize_folder_names_a_non_utf8_file_and_writes_nothing(tmp_path):
    root = tmp_path / "corpus"
    _write_corpus(root, [("pos", "fine text")])
    bad = root / "train" / "pos" / "bad.txt"
    bad.write_bytes(b"caf\xe9 latin-1")
    with pytest.raises(ValueError, match=r"bad\.txt is not valid utf-8"):
        tokenize_folder(root, n_workers=1)
    assert not (tmp_path / "corpus_tok").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["corpus"]


def test_subword_tokenizer_trains_bpe_and_unigram(rt_df, tmp_path):
    texts = rt_df["text"].tolist()[:800]
    for model in ("bpe", "unigram"):
        sub = SubwordTokenizer(vocab_sz=400, model=model, cache_dir=tmp_path / model)
        toks = tokenize_texts(texts, tok=sub, n_workers=1)
        assert sub.tok.get_vocab_size() <= 400
        assert toks[0][0] in ("xxbos", "▁xxbos")
        rebuilt = "".join(toks[0]).replace("▁", " ")
        assert rebuilt.split() == apply_rules(texts[0], DEFAULT_RULES).split()  # pieces cover the text exactly
        assert "xxbos" in toks[0][0] and all(len(t) < 40 for t in toks[0])
        # the trained model is saved and reused
        again = SubwordTokenizer(model=model, cache_dir=tmp_path / model)
        assert again.tok is not None and again([texts[1]]) == sub([texts[1]])


def test_a_tokenizer_given_as_the_base_tokenizer_is_refused():
    # it would tokenize the special tokens again ("xxbos" -> "x x b o s") instead of failing
    with pytest.raises(TypeError, match="tok= takes a base tokenizer"):
        Tokenizer(tok=Tokenizer())
    assert Tokenizer(tok=Tokenizer().tok)("Hello there")[:2] == ["xxbos", "xxmaj"]
