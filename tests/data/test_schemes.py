import random
from pathlib import Path

import pytest
from seqeval.metrics.sequence_labeling import get_entities

from seqexp.data.conll import read_conll
from seqexp.data.schemes import allowed_transitions, check, convert, problems, spans
from seqexp.run.resolvers import corpus

WNUT = Path(corpus("wnut17"))  # the bundled copy of ../shared/data/wnut17


@pytest.fixture(scope="module")
def dev_tags() -> list[list[str]]:
    return [s.tags for s in read_conll(WNUT / "emerging.dev.conll.gz")]


def seqeval_spans(tags: list[str]) -> list[tuple[str, int, int]]:
    return [(type_, start, end + 1) for type_, start, end in get_entities(list(tags))]


def test_spans_follow_conlleval_rules():
    assert spans(["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-LOC", "I-ORG", "O"]) == [
        ("PER", 0, 2), ("LOC", 3, 5), ("LOC", 5, 6), ("ORG", 6, 7)]
    assert spans(["B-X", "E-X", "E-X", "S-X", "I-X", "S-Y"]) == [("X", 0, 2), ("X", 2, 3), ("X", 3, 4),
                                                                  ("X", 4, 5), ("Y", 5, 6)]
    assert spans(["<pad>", "B-creative-work", "I-creative-work"]) == [("creative-work", 1, 3)]
    assert spans([]) == []


def test_spans_agree_with_seqeval_on_wnut_dev_and_perturbed_tags(dev_tags):
    for tags in dev_tags:
        assert spans(tags) == seqeval_spans(tags)
        assert spans(convert(tags, "bio", "bioes")) == spans(tags)
    alphabet = ["O"] + [f"{p}-{t}" for p in "BIES" for t in ("person", "location", "creative-work")]
    rng = random.Random(0)
    for tags in dev_tags:
        noisy = [rng.choice(alphabet) if rng.random() < 0.3 else tag for tag in tags]
        bioes = convert(tags, "bio", "bioes")
        noisy_bioes = [rng.choice(alphabet) if rng.random() < 0.3 else tag for tag in bioes]
        for seq in (noisy, noisy_bioes):
            assert spans(seq) == seqeval_spans(seq), seq


def test_iob1_to_bio_known_examples():
    # CoNLL-2003's original IOB1: I- everywhere, B- only where two same-type chunks touch
    assert convert(["I-PER", "I-PER", "O", "I-LOC"], "iob1", "bio") == ["B-PER", "I-PER", "O", "B-LOC"]
    assert convert(["I-PER", "B-PER", "I-PER", "I-ORG"], "iob1", "bio") == ["B-PER", "B-PER", "I-PER", "B-ORG"]
    # "EU rejects German call to boycott British lamb ." in CoNLL-2003's original files
    eu = ["I-ORG", "O", "I-MISC", "O", "O", "O", "I-MISC", "O", "O"]
    assert convert(eu, "iob1", "bio") == ["B-ORG", "O", "B-MISC", "O", "O", "O", "B-MISC", "O", "O"]


def test_conversions_between_schemes():
    bio = ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "I-LOC", "I-LOC", "B-ORG"]
    assert convert(bio, "bio", "bioes") == ["B-PER", "E-PER", "S-PER", "O", "B-LOC", "I-LOC", "E-LOC", "S-ORG"]
    assert convert(bio, "bio", "iob1") == ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-LOC", "I-LOC", "I-ORG"]
    assert convert(["O", "I-PER", "I-PER"], "bio", "bio") == ["O", "B-PER", "I-PER"]  # repaired as conlleval
    assert convert(["I-LOC", "E-LOC"], "bioes", "bio") == ["B-LOC", "I-LOC"]
    with pytest.raises(ValueError, match="token 2: tag 'X-PER' is not a BIO tag"):
        convert(["O", "X-PER"], "bio", "bioes")
    with pytest.raises(ValueError, match="unknown tagging scheme 'iob2'"):
        convert(["O"], "bio", "iob2")


def test_round_trips_keep_wnut_dev(dev_tags):
    for tags in dev_tags:
        for other in ("iob1", "bioes"):
            assert convert(convert(tags, "bio", other), other, "bio") == tags


def test_check_tags_outside_the_scheme():
    assert check(["O", "B-PER", "I-PER"], "bio") is None
    assert check(["O", "X-PER"], "bio") == "token 2: tag 'X-PER' is not a BIO tag (expected O, B-TYPE or I-TYPE)"
    assert check(["B"], "bio") == "token 1: tag 'B' is not a BIO tag (expected O, B-TYPE or I-TYPE)"
    assert check(["S-PER"], "bio").startswith("token 1: tag 'S-PER' is not a BIO tag")
    assert check(["S-PER", "E-LOC"], "bioes") is None
    assert check(["o"], "bioes") == ("token 1: tag 'o' is not a BIOES tag "
                                     "(expected O, B-TYPE, I-TYPE, E-TYPE or S-TYPE)")


def test_check_strict_chunk_starts():
    assert check(["O", "I-PER"], "bio") is None
    assert check(["O", "I-PER"], "bio", strict=True) == (
        "token 2: 'I-PER' after 'O' starts a chunk; BIO needs B-PER there")
    assert check(["I-PER"], "bio", strict=True) == (
        "token 1: 'I-PER' after the sentence start starts a chunk; BIO needs B-PER there")
    assert check(["B-PER", "I-LOC"], "bio", strict=True).startswith("token 2: 'I-LOC' after 'B-PER'")
    assert check(["B-PER", "I-PER", "O", "B-LOC"], "bio", strict=True) is None
    assert check(["I-PER", "O"], "iob1", strict=True) is None
    assert problems(["O", "I-PER", "B-LOC", "E-ORG"], "bioes", strict=True) == [
        (1, "'I-PER' after 'O' starts a chunk; BIOES needs S-PER there"),
        (2, "'B-LOC' ends a chunk; BIOES needs S-LOC there"),
        (3, "'E-ORG' after 'B-LOC' starts a chunk; BIOES needs S-ORG there")]
    assert problems(["B-PER", "I-PER", "O"], "bioes", strict=True) == [
        (1, "'I-PER' ends a chunk; BIOES needs E-PER there")]


def allowed(labels: list[str], scheme: str) -> tuple[set, set, set]:
    transitions, start, end = allowed_transitions(labels, scheme)
    assert transitions.shape == (len(labels), len(labels)) and transitions.dtype == start.dtype == end.dtype
    forbidden = {(labels[i], labels[j]) for i, j in (~transitions).nonzero().tolist()}
    return forbidden, {labels[i] for i in (~start).nonzero().flatten().tolist()}, {
        labels[i] for i in (~end).nonzero().flatten().tolist()}


def test_allowed_transitions_bio():
    forbidden, start, end = allowed(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"], "bio")
    assert forbidden == {("O", "I-PER"), ("O", "I-LOC"), ("B-PER", "I-LOC"), ("I-PER", "I-LOC"),
                         ("B-LOC", "I-PER"), ("I-LOC", "I-PER")}
    assert start == {"I-PER", "I-LOC"} and end == set()


def test_allowed_transitions_iob1():
    forbidden, start, end = allowed(["O", "I-PER", "B-PER", "I-LOC"], "iob1")
    assert forbidden == {("O", "B-PER"), ("I-LOC", "B-PER")}
    assert start == {"B-PER"} and end == set()


def test_allowed_transitions_bioes():
    labels = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "E-LOC"]
    forbidden, start, end = allowed(labels, "bioes")
    inside = {"B-PER", "I-PER"}
    expected = {(a, b) for a in labels for b in labels
                if (a in inside and b not in {"I-PER", "E-PER"})
                or (a == "B-LOC" and b != "E-LOC")
                or (a not in inside | {"B-LOC"} and b in {"I-PER", "E-PER", "E-LOC"})}
    assert forbidden == expected
    assert ("B-PER", "E-PER") not in forbidden and ("E-PER", "B-LOC") not in forbidden
    assert start == {"I-PER", "E-PER", "E-LOC"} and end == {"B-PER", "I-PER", "B-LOC"}


def test_allowed_transitions_reject_labels_outside_the_scheme():
    with pytest.raises(ValueError, match=r"labels \['S-PER'\] are not BIO tags"):
        allowed_transitions(["O", "B-PER", "S-PER"], "bio")
