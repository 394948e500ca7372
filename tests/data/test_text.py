import gzip
import logging

import pytest

from seqexp.data.text import read_lines, tokenize
from seqexp.errors import ConfigError, DataError


def test_bom_crlf_and_gzip(tmp_path):
    plain = tmp_path / "a.txt"
    plain.write_bytes(b"\xef\xbb\xbfone\r\ntwo\r\n\r\nthree")
    packed = tmp_path / "a.txt.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    expected = [(1, "one"), (2, "two"), (3, ""), (4, "three")]
    assert list(read_lines(plain)) == expected
    assert list(read_lines(packed)) == expected


def test_bad_utf8_names_the_line_or_is_replaced_and_counted(tmp_path, caplog):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"ok\nsister\xf0city\nok\n")
    with pytest.raises(DataError, match=r"latin1.txt:2: not valid UTF-8 \(byte 0xf0 at column 7\)"):
        list(read_lines(path))
    with caplog.at_level(logging.WARNING):
        lines = list(read_lines(path, errors="replace"))
    assert lines[1] == (2, "sister\ufffdcity")
    assert "1 line(s) had bytes that are not UTF-8" in caplog.text


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        list(read_lines(tmp_path / "nope"))


def test_tokenizers():
    assert tokenize("What's the U.S. capital?", "whitespace") == ["What's", "the", "U.S.", "capital?"]
    assert tokenize("What's the capital of e-mail land?", "simple", lowercase=True) == [
        "what's", "the", "capital", "of", "e-mail", "land", "?"]
    with pytest.raises(ConfigError, match="data.tokenizer: unknown tokenizer 'bpe'"):
        tokenize("x", "bpe")
