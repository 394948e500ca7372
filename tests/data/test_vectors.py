"""Tests for loading pretrained word vectors aligned to a vocabulary."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import pytest
import torch

from seqexp.data.vectors import load_vectors
from seqexp.errors import DataError

GLOVE = "the 0.1 0.2 0.3\nparis 1.0 -2.0 3.5\nParis 9.0 9.0 9.0\ncat -0.5 0.25 4.0\n"
ITOS = ["<pad>", "the", "Paris", "CAT", "zebra", "cat"]


def write(tmp_path: Path, text: str, name: str = "vectors.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def test_glove_rows_match_file(tmp_path: Path) -> None:
    weights = load_vectors(write(tmp_path, GLOVE), ITOS)
    assert weights.shape == (6, 3) and weights.dtype == torch.float32
    assert weights[1].tolist() == pytest.approx([0.1, 0.2, 0.3])
    assert weights[5].tolist() == [-0.5, 0.25, 4.0]


def test_exact_match_wins_over_lowercase(tmp_path: Path) -> None:
    weights = load_vectors(write(tmp_path, GLOVE), ITOS)
    assert weights[2].tolist() == [9.0, 9.0, 9.0]  # "Paris" exact, not "paris"


def test_lowercase_fallback(tmp_path: Path) -> None:
    weights = load_vectors(
        write(tmp_path, "paris 1.0 -2.0 3.5\ncat -0.5 0.25 4.0\n"), ["<pad>", "Paris", "CAT"]
    )
    assert weights[1].tolist() == [1.0, -2.0, 3.5]
    assert weights[2].tolist() == [-0.5, 0.25, 4.0]


def test_pad_row_is_zero_even_if_in_file(tmp_path: Path) -> None:
    weights = load_vectors(write(tmp_path, GLOVE), ["zebra", "the", "cat"], pad_index=1)
    assert weights[1].tolist() == [0.0, 0.0, 0.0]
    assert weights[2].tolist() == [-0.5, 0.25, 4.0]


def test_missing_words_random_and_repeatable(tmp_path: Path) -> None:
    path = write(tmp_path, GLOVE)
    torch.manual_seed(0)
    first = load_vectors(path, ITOS)
    torch.manual_seed(0)
    second = load_vectors(path, ITOS)
    zebra = first[4]
    assert torch.isfinite(zebra).all() and zebra.abs().sum() > 0
    assert torch.equal(first, second)
    torch.manual_seed(1)
    assert not torch.equal(load_vectors(path, ITOS)[4], zebra)


def test_missing_rows_scaled_like_loaded(tmp_path: Path) -> None:
    rows = "".join(
        f"w{i} " + " ".join(str(100.0 * ((i * 7 + j) % 5 - 2)) for j in range(50)) + "\n" for i in range(20)
    )
    itos = ["<pad>"] + [f"w{i}" for i in range(20)] + [f"missing{i}" for i in range(200)]
    torch.manual_seed(0)
    weights = load_vectors(write(tmp_path, rows), itos)
    loaded_std = weights[1:21].std()
    assert 0.8 < weights[21:].std() / loaded_std < 1.2


def test_word2vec_header(tmp_path: Path) -> None:
    weights = load_vectors(write(tmp_path, "4 3\n" + GLOVE), ITOS)
    assert weights[2].tolist() == [9.0, 9.0, 9.0]
    assert weights[5].tolist() == [-0.5, 0.25, 4.0]


def test_gzip(tmp_path: Path) -> None:
    path = tmp_path / "vectors.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as file:
        file.write(GLOVE)
    assert load_vectors(path, ITOS)[3].tolist() == [-0.5, 0.25, 4.0]


def test_bom_and_windows_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "vectors.txt"
    path.write_bytes(b"\xef\xbb\xbf" + GLOVE.replace("\n", "\r\n").encode())
    weights = load_vectors(path, ITOS)
    assert weights[1].tolist() == pytest.approx([0.1, 0.2, 0.3])
    assert weights[5].tolist() == [-0.5, 0.25, 4.0]


def test_word_with_spaces(tmp_path: Path) -> None:
    weights = load_vectors(
        write(tmp_path, "the 1 2\n. . . 3 4\nat x@y.com 5 6\n"), ["<pad>", ". . .", "at x@y.com"]
    )
    assert weights[1].tolist() == [3.0, 4.0]
    assert weights[2].tolist() == [5.0, 6.0]


def test_log_line_counts_hits(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="seqexp.data.vectors"):
        load_vectors(write(tmp_path, GLOVE), ITOS)
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    # "the", "Paris", "cat" exact; "CAT" by lowercase; "zebra" missing; pad not counted
    assert messages == ["vectors: 4 / 5 vocabulary words found in vectors.txt (80.0%), 1 by lowercase"]


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        pytest.param("a 1 2 3\nb 4 5 6\nc 7 8\n", 3, "expected 3 values after the word, got 2", id="too-few"),
        pytest.param(
            "a 1 2 3\nb 4 5 6\nc 7 8 9 10\n", 3, "expected 3 values after the word, got 4", id="too-many"
        ),
        pytest.param("a 1 2 3\nb 4 x 6\n", 2, "'x' is not a finite number", id="non-number"),
        pytest.param("a 1 2 3\nb 4 nan 6\n", 2, "'nan' is not a finite number", id="nan"),
        pytest.param(
            "2 4\na 1 2 3\nb 4 5 6\n",
            2,
            "expected 4 values after the word (dimension from the word2vec header on line 1), got 3",
            id="header-mismatch",
        ),
        pytest.param("a 1 2 3\n\xff\n", 2, "not valid UTF-8", id="bad-utf8"),
        pytest.param("lonely\n", 1, "expected a word followed by its vector values", id="no-values"),
    ],
)
def test_malformed_rows(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    path = tmp_path / "vectors.txt"
    path.write_bytes(text.encode("latin-1") if "\xff" in text else text.encode())
    with pytest.raises(DataError) as info:
        load_vectors(path, ["<pad>", "a", "b"])
    message = str(info.value)
    assert f"vectors.txt:{line}: " in message and fragment in message and "\n" not in message


@pytest.mark.parametrize("text", ["", "\n\n", "3 4\n"], ids=["empty", "blank-lines", "header-only"])
def test_no_vectors(tmp_path: Path, text: str) -> None:
    with pytest.raises(DataError, match=r"vectors\.txt: no vectors found"):
        load_vectors(write(tmp_path, text), ["<pad>", "a"])


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"vectors file not found: .*nope\.txt"):
        load_vectors(tmp_path / "nope.txt", ["<pad>", "a"])


def test_corrupt_gzip(tmp_path: Path) -> None:
    path = tmp_path / "vectors.txt.gz"
    path.write_bytes(b"not gzip at all\n")
    with pytest.raises(DataError, match=r"vectors\.txt\.gz: not a readable gzip file \(cut short, or not "
                                        r"compressed\); stopped after line 0"):
        load_vectors(path, ["<pad>", "a"])
