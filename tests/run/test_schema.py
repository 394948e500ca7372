"""The config schema: every value is checked against the signature of the ``_target_`` it configures (types,
choices, ranges, unknown keys, required values), the top level against ``Run``, before anything is built."""

import pytest

from seqexp.data.base import SeqDataModule
from seqexp.data.conll import read_conll, read_conllu
from seqexp.data.lm import LMDataModule
from seqexp.errors import ConfigError
from seqexp.models.chars import CharEncoder
from seqexp.models.decoder import Decoder
from seqexp.models.encoder import Encoder
from seqexp.run.schema import check_config, check_keys, data_configs
from seqexp.tasks.lm import LanguageModel
from seqexp.tasks.seq2seq import Seq2Seq
from seqexp.tasks.tag import Tagger

UNIT = r"in \[0, 1\)"
SIGNATURES = [  # (target, key prefix, values, the one line)
    (Encoder, "model", {"hidden_size": 0}, "model.hidden_size must be a positive integer, got 0"),
    (Encoder, "model", {"embedding_dim": -1}, "model.embedding_dim must be a positive integer, got -1"),
    (Encoder, "model", {"num_layers": 1.5}, "model.num_layers must be a positive integer, got 1.5"),
    (Encoder, "model", {"dropout": 1.0}, f"model.dropout must be {UNIT}, got 1.0"),
    (Encoder, "model", {"embedding_dropout": -0.1}, f"model.embedding_dropout must be {UNIT}, got -0.1"),
    (Encoder, "model", {"word_dropout": 1.0}, f"model.word_dropout must be {UNIT}, got 1.0"),
    (Encoder, "model", {"singleton_dropout": -0.5}, f"model.singleton_dropout must be {UNIT}, got -0.5"),
    (Encoder, "model", {"char_dropout": 1.0}, f"model.char_dropout must be {UNIT}, got 1.0"),
    (Encoder, "model", {"impl": "cuda"}, "model.impl must be one of cudnn, scratch, got 'cuda'"),
    (Encoder, "model", {"char": "gru"}, "model.char must be one of none, cnn, lstm, got 'gru'"),
    (Encoder, "model", {"char_dim": 0}, "model.char_dim must be a positive integer, got 0"),
    (Encoder, "model", {"bidirectional": "yes"}, "model.bidirectional must be true or false, got 'yes'"),
    (Encoder, "model", {"hiden_size": 8}, "model.hiden_size: unknown key for seqexp.models.encoder.Encoder "
                                          r"\(did you mean hidden_size\?\)"),
    (CharEncoder, "model", {"out_dim": -3}, "model.out_dim must be a positive integer, got -3"),
    (Decoder, "task.decoder", {"cell": "lnlstm"}, "task.decoder.cell must be one of rnn, gru, lstm, got 'lnlstm'"),
    (Decoder, "task.decoder", {"attention": "dot"}, "task.decoder.attention must be one of none, bahdanau, "
                                                    "luong-dot, luong-general, got 'dot'"),
    (Decoder, "task.decoder", {"hidden_size": 0}, "task.decoder.hidden_size must be a positive integer, got 0"),
    (Decoder, "task.decoder", {"num_layers": 0}, "task.decoder.num_layers must be a positive integer, got 0"),
    (Decoder, "task.decoder", {"dropout": 1.0}, f"task.decoder.dropout must be {UNIT}, got 1.0"),
    (Seq2Seq, "task", {"decoder": {"bidirectional": True}}, "task.decoder.bidirectional: unknown key for "
                                                            r"seqexp.models.decoder.Decoder \(a decoder generates"),
    (Seq2Seq, "task", {"beam_size": 0}, "task.beam_size must be a positive integer, got 0"),
    (Seq2Seq, "task", {"teacher_forcing": 1.5}, r"task.teacher_forcing must be in \[0, 1\], got 1.5"),
    (Tagger, "task", {"scheme": "iob2"}, "task.scheme must be one of iob1, bio, bioes or null, got 'iob2'"),
    (Tagger, "task", {"lm_weight": -0.1}, "task.lm_weight must be non-negative, got -0.1"),
    (LanguageModel, "task", {"top_k": -1}, "task.top_k must be a non-negative integer, got -1"),
    (LanguageModel, "task", {"init_range": 0.0}, "task.init_range must be positive or null, got 0.0"),
    (SeqDataModule, "data", {"batch_size": 0}, "data.batch_size must be a positive integer, got 0"),
    (SeqDataModule, "data", {"val_fraction": 1.0}, r"data.val_fraction must be in \(0, 1\), got 1.0"),
    (SeqDataModule, "data", {"train": None}, "data.train must be a string or a list of strings, got null"),
    (SeqDataModule, "data", {"tokenizer": "bpe"}, "data.tokenizer must be one of whitespace, simple, got 'bpe'"),
    (LMDataModule, "data", {"bptt": 0}, "data.bptt must be a positive integer, got 0"),  # **kwargs: the base's too
    (LMDataModule, "data", {"max_len": 0}, "data.max_len must be a positive integer, got 0"),
    (read_conll, "data.reader", {"scheme": "iob2"}, "data.reader.scheme must be one of iob1, bio, bioes, got 'iob2'"),
    (read_conll, "data.reader", {"output_scheme": "iob1"}, "data.reader.output_scheme must be one of bio, bioes"),
    (read_conllu, "data.reader", {"tag_field": "deprel"}, "data.reader.tag_field must be one of upos, xpos"),
]


@pytest.mark.parametrize(("target", "prefix", "values", "message"), SIGNATURES,
                         ids=[f"{p}.{next(iter(v))}" for _, p, v, _ in SIGNATURES])
def test_values_are_checked_against_the_signature(target, prefix, values, message):
    with pytest.raises(ConfigError, match=f"^{message}"):
        check_keys(target, values, prefix)


def test_good_values_pass():
    check_keys(Encoder, {"hidden_size": 8, "dropout": 0.0, "char": "cnn", "impl": "scratch", "cell": "lnlstm"},
               "model")
    check_keys(SeqDataModule, {"train": ["a.tsv", "b.tsv"], "max_size": None, "val_fraction": 0.5}, "data")


CONFIGS = {  # overrides: the one line (composed as python -m seqexp composes them)
    ("seed=abc",): "seed must be an integer in [0, 4294967295], got 'abc'",
    ("seed=-1",): "seed must be an integer in [0, 4294967295], got -1",
    ("trainer.max_epochs=abc",): "trainer.max_epochs must be an integer or null, got 'abc'",
    ("optimizer.lr=-1",): "optimizer: torch.optim.Adam refuses these settings: Invalid learning rate: -1",
    ("monitor_mode=up",): "monitor_mode must be one of min, max, got 'up'",
    ("data=tsv",): "data.train is required: set it on the command line (data.train=...)",
    ("data=tsv", "data.train=null"): "data.train must be a string or a list of strings, got null",
    ("task=ner", "data=trec"): "data=trec does not fit task=ner: Tagger reads the examples of a TaggingDataModule, "
                               "data=trec gives a ClassifyDataModule (data configs that fit: conll, conll2003, "
                               "conllu, ud_ewt, wnut17)",
    ("+model.hiden_size=3",): "model.hiden_size: unknown key for seqexp.models.encoder.Encoder (did you mean "
                              "hidden_size?)",
    ("callbacks.early_stopping.patience=soon",): "callbacks.early_stopping.patience must be an integer, got 'soon'",
    ("model._target_=seqexp.nope.Encoder",): "model._target_: cannot import 'seqexp.nope.Encoder'",
}


@pytest.mark.parametrize("overrides", CONFIGS)
def test_config_values_name_the_key(make_cfg, overrides):
    with pytest.raises(ConfigError) as error:
        check_config(make_cfg(*overrides))
    assert str(error.value) == CONFIGS[overrides]


SHIPPED = [[f"task={t}"] for t in ("classify", "ner", "pos", "lm", "seq2seq", "cond")] + [
    [f"model={m}"] for m in ("rnn", "gru", "birnn", "bilstm", "bigru", "lnlstm")] + [
    [f"experiment={e}"] for e in ("trec6_lstm", "trec6_bilstm_max", "trec50_bigru", "ner_wnut17", "pos_ud_ewt",
                                  "conll2003_ma_hovy", "conll2003_lample", "tatoeba_bahdanau",
                                  "tatoeba_no_attention", "ptb_zaremba_medium")] + [
    ["trainer=ddp"], ["trainer=gpu"], ["logger=[csv,tensorboard,wandb]"], ["data=csv", "data.train=x.csv"],
    ["task=ner", "model.char=lstm", "task.crf=true"], ["hparams_search=optuna"]]


@pytest.mark.parametrize("overrides", SHIPPED, ids=[" ".join(o) for o in SHIPPED])
def test_every_shipped_config_passes(make_cfg, overrides):
    check_config(make_cfg(*overrides))


def test_each_head_names_the_data_configs_it_reads():
    assert data_configs(Tagger.reads) == ["conll", "conll2003", "conllu", "ud_ewt", "wnut17"]
    assert data_configs(LanguageModel.reads) == ["ptb", "text", "ud_ewt_text", "wikitext2"]
