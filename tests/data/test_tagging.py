"""The tagging DataModule on the bundled WNUT-17 and UD-EWT data, and on a user's CoNLL file."""

from collections import Counter

import pytest
import torch

from helpers import data_module
from seqexp.data.batching import padding_ratio
from seqexp.errors import DataError


def test_wnut17_splits_tags_and_chars():
    data = data_module("task=ner", chars=True)
    # train + dev (3,394 + 1,009) with 10% carved for val
    assert {s: len(d) for s, d in data.datasets.items()} == {"train": 3963, "val": 440, "test": 1287}
    types = ["corporation", "creative-work", "group", "location", "person", "product"]
    assert data.vocabs.labels.itos == sorted(["O", *(f"{p}-{t}" for t in types for p in "BI")])
    batch = next(iter(data.val_dataloader()))
    b, t = batch["tokens"].shape
    assert batch["tags"].shape == (b, t) and batch["chars"].shape[:2] == (b, t)
    real = torch.arange(t)[None, :] < batch["lengths"][:, None]  # [B, T]
    assert torch.all(batch["chars"][~real] == 0) and torch.all(batch["chars"][real][:, 0] > 0)
    assert "<pad>" in data.vocabs.chars and "Z" in data.vocabs.chars  # case kept for characters
    assert all(len(c) == 1 for c in data.vocabs.chars.itos[2:])  # characters, not words
    trump = data.vocabs.chars.encode("Trump")
    assert data.vocabs.chars.unk_index not in trump and len(set(trump)) == 5
    assert data.vocabs.as_args()["chars"] == data.vocabs.chars.itos
    counts = Counter(w.lower() for x in data.read_splits()["train"] for w in x.tokens)
    assert data.vocabs.singletons == sum(c == 1 for c in counts.values()) > 0  # the train split, val carved off
    assert all(counts[w] == 1 for w in data.vocabs.vocab.itos[-data.vocabs.singletons:])


def test_ud_ewt_upos_and_xpos():
    data = data_module("task=pos")
    assert {s: len(d) for s, d in data.datasets.items()} == {"train": 12544, "val": 2001, "test": 2077}
    assert sum(len(x["tokens"]) for x in data.datasets["train"]) == 204577
    assert len(data.vocabs.labels) == 17 and "PROPN" in data.vocabs.labels
    assert len(data_module("task=pos", "data.reader.tag_field=xpos").vocabs.labels) > 40


def test_user_conll_file_in_iob1(tmp_path):
    path = tmp_path / "eng.train"
    path.write_text("-DOCSTART- -X- O O\n\nEU NNP I-NP I-ORG\nrejects VBZ I-VP O\nGerman JJ I-NP I-MISC\n\n"
                    "Peter NNP I-NP I-PER\nBlackburn NNP I-NP I-PER\n")
    data = data_module("task=ner", "data=conll", f"data.train={path}", f"data.val={path}",
                       "data.reader.scheme=iob1")
    tags = [data.vocabs.labels.decode(x["tags"].tolist()) for x in data.datasets["train"]]
    assert tags == [["B-ORG", "O", "B-MISC"], ["B-PER", "I-PER"]]


def test_unseen_tag_in_test_names_file_and_line_and_tiny_train(tmp_path):
    (tmp_path / "train.txt").write_text("a O\nb B-PER\n\nc O\nd B-PER\n")
    (tmp_path / "test.txt").write_text("a O\n\nb B-LOC\n")
    with pytest.raises(DataError, match=r"test.txt:3: tag 'B-LOC' does not occur in the training data"):
        data_module("task=ner", "data=conll", f"data.train={tmp_path}/train.txt", f"data.test={tmp_path}/test.txt",
                    "data.val_fraction=0.5")
    (tmp_path / "one.txt").write_text("a O\n")
    with pytest.raises(DataError, match="data.train: 1 example.s. are too few to carve a val split"):
        data_module("task=ner", "data=conll", f"data.train={tmp_path}/one.txt")


def test_several_files_make_one_split_and_errors_name_their_file(tmp_path):
    a, b, t = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "t.txt"
    a.write_text("a O\nb B-PER\n\nc O\n")
    b.write_text("d B-LOC\ne I-LOC\n")
    t.write_text("a O\n\nb B-ORG\n")
    data = data_module("task=ner", "data=conll", f"data.train=[{a},{b}]", f"data.val={b}")
    assert [data.vocabs.labels.decode(x["tags"].tolist()) for x in data.datasets["train"]] == [
        ["O", "B-PER"], ["O"], ["B-LOC", "I-LOC"]]
    assert "e" in data.vocabs.vocab and "a" in data.vocabs.vocab
    with pytest.raises(DataError, match=r"t.txt:3: tag 'B-ORG' does not occur in the training data"):
        data_module("task=ner", "data=conll", f"data.train=[{a},{b}]", f"data.val={b}", f"data.test=[{a},{t}]")


@pytest.mark.parametrize("task", ["ner", "pos"])
def test_bundled_padding_is_under_3_percent(task):
    """The performance target: WNUT-17 with the default pool, UD-EWT's long tail with its pool of 200."""
    data = data_module(f"task={task}")
    lengths = [len(x["tokens"]) for x in data.datasets["train"]]
    assert padding_ratio(lengths, iter(data.train_dataloader().batch_sampler)) < 0.03
