"""Language-modelling data: one token stream per split, <eos> per line, contiguous columns, bptt windows."""

import pytest
import torch

from helpers import data_module as compose_data
from seqexp.data.lm import LMDataModule
from seqexp.data.readers import read_text
from seqexp.data.vocab import Vocabs
from seqexp.errors import ConfigError, DataError


def data_module(*overrides: str, vocabs: Vocabs | None = None) -> LMDataModule:
    return compose_data("task=lm", *overrides, vocabs=vocabs)


def text_data(path, *overrides: str) -> LMDataModule:
    return data_module("data=text", f"data.train={path}", f"data.val={path}", *overrides)


def test_stream_columns_and_windows(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("a b c\nd e\n\n  \nf g h i\n")  # blank lines are skipped
    data = text_data(path, "data.batch_size=2", "data.bptt=2")
    words = "a b c <eos> d e <eos> f g h i <eos>".split()
    assert data.vocabs.vocab.decode(data.streams["train"].tolist()) == words

    columns = LMDataModule.batchify(data.streams["train"], 2)  # [B, C]
    assert [data.vocabs.vocab.decode(row) for row in columns.tolist()] == [words[:6], words[6:]]  # contiguous rows

    batches = list(data.train_dataloader())
    assert [b["tokens"].shape for b in batches] == [(2, 2), (2, 2), (2, 1)]  # the last window is shorter
    assert [b["lengths"].tolist() for b in batches] == [[2, 2], [2, 2], [1, 1]]
    for b in batches:
        assert b["targets"].shape == b["tokens"].shape
    # consecutive windows continue each column; targets are the tokens one step on
    tokens = torch.cat([b["tokens"] for b in batches], dim=1)  # [B, C - 1]
    targets = torch.cat([b["targets"] for b in batches], dim=1)
    torch.testing.assert_close(tokens, columns[:, :-1])
    torch.testing.assert_close(targets, columns[:, 1:])
    # in order, the same every epoch: the model carries its state from one batch to the next
    again = list(data.train_dataloader())
    assert all(torch.equal(x["tokens"], y["tokens"]) for x, y in zip(batches, again, strict=True))


def test_leftover_tokens_are_dropped_and_tiny_streams_rejected():
    stream = torch.arange(11)
    assert LMDataModule.batchify(stream, 3).tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    batches = LMDataModule.windows(stream, 3, bptt=5)
    assert len(batches) == 1 and batches[0]["tokens"].tolist() == [[0, 1], [3, 4], [6, 7]]
    assert batches[0]["targets"].tolist() == [[1, 2], [4, 5], [7, 8]]
    with pytest.raises(DataError, match=r"data.val: 5 token\(s\) are too few for data.batch_size=3"):
        LMDataModule.windows(torch.arange(5), 3, bptt=5, name="data.val")


def test_literal_unk_is_the_vocabulary_unk_and_blank_lines_on_request(tmp_path):
    path = tmp_path / "ptb.txt"
    path.write_text(" the <unk> cat \n\n the N <unk>\n")
    data = text_data(path, "data.reader.skip_blank=false", "data.batch_size=1")
    assert data.vocabs.vocab.itos.count("<unk>") == 1
    stream = data.streams["train"].tolist()
    assert stream[1] == stream[7] == data.vocabs.vocab.unk_index
    assert data.vocabs.vocab.decode(stream) == "the <unk> cat <eos> <eos> the N <unk> <eos>".split()
    assert data.vocabs.vocab.itos[4:] == ["the", "N", "cat"]  # by frequency, then alphabetically

    capped = text_data(path, "data.max_size=1", "data.lowercase=true", "data.batch_size=1")
    assert capped.vocabs.vocab.decode(capped.streams["train"].tolist()) == \
        "the <unk> <unk> <eos> the <unk> <unk> <eos>".split()


def test_held_out_val_is_the_end_of_train(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("".join(f"line {i}\n" for i in range(10)))
    data = data_module("data=text", f"data.train={path}", "data.val_fraction=0.2", "data.batch_size=1")
    assert data.vocabs.vocab.decode(data.streams["train"][-3:].tolist()) == ["line", "7", "<eos>"]
    assert len(data.streams["train"]) == 8 * 3
    # lines 8 and 9, unknown words: the vocabulary comes from train alone
    assert data.vocabs.vocab.decode(data.streams["val"].tolist()) == "line <unk> <eos> line <unk> <eos>".split()


def test_a_trained_models_vocabulary_can_be_imposed(tmp_path):
    """Evaluating a checkpoint: its vocabulary, not one built from the files."""
    path = tmp_path / "t.txt"
    path.write_text("x y z\n")
    vocabs = Vocabs.from_args({"vocab": ["<pad>", "<unk>", "<bos>", "<eos>", "y"], "chars": None,
                               "tokenizer": {"tokenizer": "whitespace", "lowercase": False}})
    data = data_module("data=text", f"data.train={path}", f"data.val={path}", "data.batch_size=1", vocabs=vocabs)
    assert data.streams["val"].tolist() == [1, 4, 1, 3]


def test_ud_ewt_text_is_the_treebank_words():
    data = data_module()  # task=lm's default data
    eos = data.vocabs.vocab.stoi["<eos>"]
    train = data.streams["train"]
    assert len(train) == 204_577 + 12_544
    assert int((train == eos).sum()) == 12_544 and train[-1] == eos
    assert int((data.streams["val"] == eos).sum()) == 2_001
    assert int((data.streams["test"] == eos).sum()) == 2_077
    assert data.vocabs.vocab.unk_index not in train.tolist()  # every training word is in the vocabulary
    assert all(w == w.lower() for w in data.vocabs.vocab.itos)
    first = data.datasets["train"][0]
    assert first["tokens"].shape == (20, 35)
    assert data.vocabs.vocab.decode(first["tokens"][0, :5].tolist()) == ["al", "-", "zaman", ":", "american"]
    second = data.datasets["train"][1]
    torch.testing.assert_close(second["tokens"][:, 0], first["targets"][:, -1])
    assert data.vocabs.as_args()["tokenizer"] == {"tokenizer": "whitespace", "lowercase": True, "max_word_len": 50}


def test_bad_settings_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="model.char"):
        LMDataModule(read_text, train=str(tmp_path / "t.txt"), chars=True)


def test_read_text(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("one line\n\ntwo\n")
    assert [(t.text, t.line) for t in read_text(path)] == [("one line", 1), ("two", 3)]
    assert [t.text for t in read_text(path, skip_blank=False)] == ["one line", "", "two"]
    (tmp_path / "blank.txt").write_text("\n \n")
    with pytest.raises(DataError, match="blank.txt: no text"):
        read_text(tmp_path / "blank.txt", skip_blank=False)
