import gzip
import logging
from collections import Counter
from pathlib import Path

import pytest

from seqexp.data.conll import Tagged, read_conll, read_conllu
from seqexp.errors import DataError
from seqexp.run.resolvers import corpus

WNUT, EWT = Path(corpus("wnut17")), Path(corpus("ud_ewt"))  # bundled copies of ../shared/data
WNUT_TYPES = {"corporation", "creative-work", "group", "location", "person", "product"}
UPOS = {"ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
        "SCONJ", "SYM", "VERB", "X"}


@pytest.fixture(scope="module")
def ewt_train() -> list[Tagged]:
    return read_conllu(EWT / "en_ewt-ud-train.conllu.gz")


def write(tmp_path: Path, text: str, name: str = "d.conll") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# -- CoNLL ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,sentences,tokens,last_line", [
    ("wnut17train.conll", 3394, 62730, 66113),  # its breaks mix empty lines and lines holding only a tab
    ("emerging.dev.conll", 1009, 15733, 16732),
    ("emerging.test.annotated", 1287, 23394, 24663),
])
def test_wnut17_sizes_and_types(name, sentences, tokens, last_line):
    data = read_conll(WNUT / f"{name}.gz", strict=True)
    assert (len(data), sum(len(s.tokens) for s in data), data[-1].line) == (sentences, tokens, last_line)
    assert all(len(s.tokens) == len(s.tags) > 0 for s in data)
    assert {tag[2:] for s in data for tag in s.tags if tag != "O"} == WNUT_TYPES
    assert data[0].line == 1


def test_wnut17_dev_first_sentence_and_bioes():
    bio, bioes = read_conll(WNUT / "emerging.dev.conll.gz"), read_conll(WNUT / "emerging.dev.conll.gz",
                                                                       output_scheme="bioes")
    assert bio[0].tokens[:5] == ["Stabilized", "approach", "or", "not", "?"]
    assert [s.tokens for s in bio] == [s.tokens for s in bioes]
    counts = Counter(tag[0] for s in bioes for tag in s.tags)
    assert counts["B"] == counts["E"] and set(counts) == {"O", "B", "I", "E", "S"}
    # dev has 836 entities (B- tags in BIO): each is one S- or one B-...E- in BIOES
    assert counts["S"] + counts["B"] == sum(tag.startswith("B-") for s in bio for tag in s.tags) == 836


def test_docstart_columns_gz_and_no_trailing_blank_line(tmp_path):
    path = tmp_path / "d.conll.gz"
    with gzip.open(path, "wt") as f:
        f.write("-DOCSTART- -X- -X- O\n\nEU NNP B-NP I-ORG\nrejects VBZ B-VP O\n\n\n"
                "-DOCSTART- -X- -X- O\n\nPeter NNP B-NP I-PER\nBlackburn NNP I-NP I-PER")
    data = read_conll(path, scheme="iob1")
    assert data == [Tagged(["EU", "rejects"], ["B-ORG", "O"], 3), Tagged(["Peter", "Blackburn"],
                                                                         ["B-PER", "I-PER"], 9)]
    chunks = read_conll(path, tag_column=2, scheme="bio", output_scheme="bioes")
    assert [s.tags for s in chunks] == [["S-NP", "S-VP"], ["B-NP", "E-NP"]]


def test_tab_delimiter_keeps_spaces_in_tokens(tmp_path):
    path = write(tmp_path, "New York\tB-LOC\nis\tO\n \t \nhi\tO\n")
    data = read_conll(path, delimiter="\t")
    assert [(s.tokens, s.line) for s in data] == [(["New York", "is"], 1), (["hi"], 4)]


def test_repairs_are_logged_once_per_file(tmp_path, caplog):
    path = write(tmp_path, "a O\nb I-PER\nc I-PER\n\nd I-LOC\n\ne B-PER\nf I-LOC\n")
    with caplog.at_level(logging.WARNING, logger="seqexp.data.conll"):
        data = read_conll(path)
    assert [s.tags for s in data] == [["O", "B-PER", "I-PER"], ["B-LOC"], ["B-PER", "B-LOC"]]
    assert [r.getMessage() for r in caplog.records] == [
        "d.conll: 3 tag(s) break the BIO chunk rules (e.g. I- after O); read as conlleval does, the I- starting a "
        "chunk (data.reader.strict=true makes them errors)"]
    caplog.clear()
    read_conll(WNUT / "emerging.dev.conll.gz")
    assert not caplog.records


@pytest.mark.parametrize("text,kwargs,message", [
    ("a O\nb O\n\nc O\nd O x\n", {}, r"d.conll:5: 3 column\(s\), but the first token line \(line 1\) has 2"),
    ("a O\n\nb X-PER\n", {}, r"d.conll:3: tag 'X-PER' is not a BIO tag \(expected O, B-TYPE or I-TYPE\)"),
    ("a O\nb B\n", {}, r"d.conll:2: tag 'B' is not a BIO tag"),
    ("a S-PER\n", {"scheme": "bio"}, r"d.conll:1: tag 'S-PER' is not a BIO tag"),
    ("a O\n\nb B-PER\nc I-LOC\n", {"strict": True},
     r"d.conll:4: 'I-LOC' after 'B-PER' starts a chunk; BIO needs B-LOC there \(data.reader.strict=false"),
    ("a B-PER\nb O\n", {"scheme": "bioes", "strict": True}, r"d.conll:1: 'B-PER' ends a chunk; BIOES needs S-PER"),
    ("a\nb\n", {}, r"d.conll:1: 1 column\(s\): token_column=0 and tag_column=-1 are the same column"),
    ("a O\n", {"tag_column": 2}, r"d.conll:1: 2 column\(s\), no column 2 \(data.reader.tag_column=2\)"),
    ("", {}, r"d.conll: no sentences"),
    ("-DOCSTART- O\n\n \n", {}, r"d.conll: no sentences"),
])
def test_conll_errors_name_file_and_line(tmp_path, text, kwargs, message):
    with pytest.raises(DataError, match=message):
        read_conll(write(tmp_path, text), **kwargs)


def test_conll_bad_utf8_names_the_line(tmp_path):
    path = tmp_path / "d.conll"
    path.write_bytes(b"a O\nb\xff O\n")
    with pytest.raises(DataError, match=r"d.conll:2: not valid UTF-8"):
        read_conll(path)
    assert read_conll(path, encoding_errors="replace")[0].tokens == ["a", "b\ufffd"]


# -- CoNLL-U ----------------------------------------------------------------------------------------------

def test_ewt_train_sizes_and_upos(ewt_train):
    # 204,577 words: 207,228 word lines less 2,614 multiword token ranges and 37 empty nodes
    assert (len(ewt_train), sum(len(s.tokens) for s in ewt_train)) == (12544, 204577)
    assert {tag for s in ewt_train for tag in s.tags} == UPOS
    assert all(len(s.tokens) == len(s.tags) for s in ewt_train)


@pytest.mark.parametrize("split,sentences,words", [("dev", 2001, 25147), ("test", 2077, 25094)])
def test_ewt_dev_and_test_sizes(split, sentences, words):
    data = read_conllu(EWT / f"en_ewt-ud-{split}.conllu.gz")
    assert (len(data), sum(len(s.tokens) for s in data)) == (sentences, words)


def test_ewt_multiword_tokens_and_empty_nodes_are_dropped():
    dev = {s.line: s for s in read_conllu(EWT / "en_ewt-ud-dev.conllu.gz")}
    assert dev[5] == Tagged(["From", "the", "AP", "comes", "this", "story", ":"],
                            ["ADP", "DET", "PROPN", "VERB", "DET", "NOUN", "PUNCT"], 5)
    im = dev[3413]  # "1-2 I'm" then "1 I" and "2 'm"
    assert (im.tokens[:3], im.tags[:3]) == (["I", "'m", "just"], ["PRON", "AUX", "ADV"])
    copy = dev[1594]  # the empty node "8.1 write" sits between "8 like" and "9 about"
    assert copy.tokens[6:9] == ["they", "like", "about"] and copy.tokens.count("write") == 1
    xpos = read_conllu(EWT / "en_ewt-ud-dev.conllu.gz", tag_field="xpos")
    assert xpos[0].tags == ["IN", "DT", "NNP", "VBZ", "DT", "NN", ":"]


def test_ewt_dont_range(ewt_train):
    dont = next(s for s in ewt_train if s.line == 2800)  # "1-2 Don't"
    assert (dont.tokens[:2], dont.tags[:2]) == (["Do", "n't"], ["AUX", "PART"])


def conllu(*rows: str) -> str:
    return "".join("\t".join([*row.split(), *["_"] * (10 - len(row.split()))]) + "\n" if row else "\n"
                   for row in rows)


def test_conllu_comments_and_no_trailing_blank_line(tmp_path):
    path = write(tmp_path, "# text = I'm here\n" + conllu("1-2 I'm", "1 I I PRON", "2 'm be AUX", "3 here here ADV",
                                                         "", "1 Hi hi INTJ").rstrip("\n"), "d.conllu")
    assert read_conllu(path) == [Tagged(["I", "'m", "here"], ["PRON", "AUX", "ADV"], 2),
                                 Tagged(["Hi"], ["INTJ"], 7)]


@pytest.mark.parametrize("rows,message", [
    (["1 a a X", "2 b b X _ _ _ _ _ _ extra"], r"d.conllu:2: expected 10 tab-separated CoNLL-U fields, got 11"),
    (["1 a a X", "x b b X"], r"d.conllu:2: malformed ID 'x' \(expected a word number, a range like 1-2"),
    (["1 a a X", "2-b b b X"], r"d.conllu:2: malformed ID '2-b'"),
    (["3-2 ab", "2 a a X"], r"d.conllu:1: multiword token range '3-2' ends before it starts"),
    (["1 a a X", "3 b b X"], r"d.conllu:2: word ID 3 out of order \(expected 2\)"),
    (["1 a a X", "", "2 b b X"], r"d.conllu:3: word ID 2 out of order \(expected 1\)"),
])
def test_conllu_errors_name_file_and_line(tmp_path, rows, message):
    with pytest.raises(DataError, match=message):
        read_conllu(write(tmp_path, conllu(*rows), "d.conllu"))


def test_conllu_space_separated_line_and_empty_and_config_errors(tmp_path):
    with pytest.raises(DataError, match=r"d.conllu:2: expected 10 tab-separated CoNLL-U fields, got 1"):
        read_conllu(write(tmp_path, "# c\n1 a a X _ _ _ _ _ _\n", "d.conllu"))
    with pytest.raises(DataError, match=r"d.conllu: no sentences"):
        read_conllu(write(tmp_path, "# only a comment\n\n", "d.conllu"))
