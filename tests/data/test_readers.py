import gzip
from collections import Counter

import pytest

from seqexp.data.readers import read_trec, read_tsv
from seqexp.errors import DataError
from seqexp.run.resolvers import corpus

TRAIN, TEST = corpus("trec/train_5500.label.gz"), corpus("trec/TREC_10.label.gz")


def test_bundled_trec_has_the_standard_sizes_and_labels():
    train, test = read_trec(TRAIN, encoding_errors="replace"), read_trec(TEST)
    assert (len(train), len(test)) == (5452, 500)
    assert set(ex.label for ex in train) == {"ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"}
    # the published TREC-6 test distribution (Li & Roth 2002)
    assert Counter(ex.label for ex in test) == {"DESC": 138, "ENTY": 94, "ABBR": 9, "HUM": 65, "NUM": 113,
                                                "LOC": 81}
    assert train[0].text == "How did serfdom develop in and then leave Russia ?" and train[0].line == 1


def test_trec50_fine_labels():
    train = read_trec(TRAIN, fine=True, encoding_errors="replace")
    assert train[0].label == "DESC:manner"
    assert len(set(ex.label for ex in train)) == 50


def test_trec_format_error(tmp_path):
    path = tmp_path / "t.label"
    path.write_text("DESC:manner How ?\nno-colon here\n")
    with pytest.raises(DataError, match=r"t.label:2: expected 'COARSE:fine question'"):
        read_trec(path)


def test_tsv_columns_header_quotes_and_csv(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('id,label,text\n1,pos,"good, really"\n\n2,neg,"say ""hi"""\n')
    rows = read_tsv(path, text_column=2, label_column=1, delimiter=",", header=True, quoting="csv")
    assert [(r.text, r.label, r.line) for r in rows] == [("good, really", "pos", 2), ('say "hi"', "neg", 4)]
    path.write_text('1,pos,"unclosed\n')
    with pytest.raises(DataError, match=r"d.csv:1: unexpected end of data \(CSV quoting; data.reader.quoting=none"):
        read_tsv(path, text_column=2, label_column=1, delimiter=",", quoting="csv")


def test_tsv_fields_are_split_at_tabs_and_keep_their_quotes(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text('"quoted\tq\nhe said "no"\tn\n')
    assert [(r.text, r.label) for r in read_tsv(path)] == [('"quoted', "q"), ('he said "no"', "n")]


def test_lf_crlf_and_old_mac_cr_read_the_same(tmp_path):
    lines = ["one\ta", "", "two\tb", "three\u2028still three\x0c\tc"]  # U+2028 and form feed end no line
    read = []
    for i, ending in enumerate(("\n", "\r\n", "\r")):
        path = tmp_path / f"{i}.tsv"
        path.write_bytes(ending.join(lines).encode())
        read.append([(r.text, r.label, r.line) for r in read_tsv(path)])
    assert read[0] == read[1] == read[2] == [("one", "a", 1), ("two", "b", 3), ("three\u2028still three\x0c", "c", 4)]


@pytest.mark.parametrize("content", [b"\x1f\x8b\x08\x00garbage", b"plain text, not gzip\n", b"cut short"])
def test_a_broken_gz_is_named(tmp_path, content):
    path = tmp_path / "d.tsv.gz"
    whole = gzip.compress("".join(f"word{i}\tx\n" for i in range(5000)).encode())
    path.write_bytes(whole[:len(whole) // 2] if content == b"cut short" else content)
    with pytest.raises(DataError, match=f"^{path}: not a readable gzip file"):
        read_tsv(path)


@pytest.mark.parametrize("content,message", [
    ("a\tx\nb\n", r"d.tsv:2: expected at least 2 tab-separated columns \(text in 0, label in 1\), got 1"),
    ("a\tx\nb\t \n", r"d.tsv:2: empty label in column 1"),
    ("\n\n", r"d.tsv: no examples"),
])
def test_tsv_errors_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "d.tsv"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        read_tsv(path)
