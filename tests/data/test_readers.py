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
    path.write_text('id,label,text\n1,pos,"good, really"\n\n2,neg,bad\n')
    rows = read_tsv(path, text_column=2, label_column=1, delimiter=",", header=True)
    assert [(r.text, r.label, r.line) for r in rows] == [("good, really", "pos", 2), ("bad", "neg", 4)]


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
