from collections import Counter

import pytest

from seqexp.data.vocab import SPECIALS, Vocab


def test_build_orders_by_frequency_then_alphabet_and_respects_limits():
    seqs = [["b", "a", "c"], ["a", "c", "d"], ["a"]]
    vocab = Vocab.build(seqs)
    assert vocab.itos == [*SPECIALS, "a", "c", "b", "d"]
    assert (vocab.pad_index, vocab.unk_index) == (0, 1)
    assert Vocab.build(seqs, min_freq=2).itos == [*SPECIALS, "a", "c"]
    assert Vocab.build(seqs, max_size=1).itos == [*SPECIALS, "a"]


def test_encode_decode_and_unknowns():
    vocab = Vocab.build([["x", "y"]])
    assert vocab.encode(["y", "zzz"]) == [vocab.stoi["y"], 1]
    assert vocab.decode(vocab.encode(["x", "y"])) == ["x", "y"]
    assert Vocab(vocab.itos).stoi == vocab.stoi  # rebuilt from a checkpoint's plain list


def test_label_map_is_sorted_and_has_no_unknown():
    labels = Vocab.labels(["NUM", "ABBR", "NUM"])
    assert labels.itos == ["ABBR", "NUM"]
    with pytest.raises(KeyError):
        labels.encode(["LOC"])


def test_generated_ids_to_text_stop_at_eos():
    vocab = Vocab.build([["je", "suis", "là"]])
    ids = vocab.encode(["<bos>", "je", "suis", "<eos>", "là", "<pad>"])
    assert vocab.text(ids) == "je suis"


def test_singletons_are_counted_and_end_the_vocabulary():
    text = "the cat saw the dog and the cat ran".split()
    vocab = Vocab.build([text])
    assert vocab.singletons(Counter(text)) == 4  # saw dog and ran
    assert vocab.itos[-4:] == ["and", "dog", "ran", "saw"]
    assert Vocab.build([text], min_freq=2).singletons(Counter(text)) == 0


def test_from_counts_is_build_without_the_text():
    text = "the cat <unk> saw the dog and the cat ran <pad>".split()
    for kwargs in ({}, {"min_freq": 2}, {"max_size": 3}, {"specials": ("<pad>", "<unk>")}):
        assert Vocab.from_counts(Counter(text), **kwargs).itos == Vocab.build([text], **kwargs).itos
