"""Property-based fuzzing (hypothesis): random bytes and random mutations of valid files, plain or gzipped and
perhaps cut short, fed to every reader and to prediction. Each either reads or raises a DataError naming the
file; any other exception is a bug. Bounded (``max_examples``, derandomized) to a few seconds for CI."""

import gzip
import io
import tempfile
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqexp.data.conll import read_conll, read_conllu
from seqexp.data.readers import read_captions, read_parallel, read_tatoeba, read_text, read_trec, read_tsv
from seqexp.data.text import split_lines
from seqexp.data.vectors import load_vectors
from seqexp.data.vocab import SPECIALS
from seqexp.errors import DataError
from seqexp.predict import json_line, predict_lines
from seqexp.tasks.classify import Classifier
from seqexp.tasks.cond import ConditionalGenerator
from seqexp.tasks.tag import Tagger

FUZZ = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
CONLLU = "# text = do it\n1\tdo\tdo\tVERB\tVB\t_\t0\troot\t_\t_\n2\tit\tit\tPRON\tPRP\t_\t1\tobj\t_\t_\n\n"
READERS = {  # name: (reader of one path, a valid file)
    "trec": (read_trec, b"DESC:def What is a cat ?\nNUM:count How many legs ?\n"),
    "tsv": (read_tsv, b"good film\tpos\nbad \"film\tneg\n"),
    "csv": (partial(read_tsv, delimiter=",", quoting="csv", header=True), b'text,label\n"a, b",x\nc,y\n'),
    "tatoeba": (read_tatoeba, b"Hi.\tSalut.\tCC-BY\nRun!\tCours !\n"),
    "text": (read_text, b"the cat sat\n\non the mat\n"),
    "conll": (read_conll, b"-DOCSTART- O\n\nEU B-ORG\nrejects O\n\nPeter B-PER\nBlackburn I-PER\n"),
    "conll_iob1_strict": (partial(read_conll, scheme="iob1", output_scheme="bioes", strict=True),
                          b"EU I-ORG\nrejects O\nGerman I-MISC\n"),
    "conllu": (read_conllu, CONLLU.encode()),
    "vectors": (partial(load_vectors, itos=["<pad>", "a", "b"]), b"2 2\na 0.1 0.2\nb 0.3 0.4\n"),
}
SPECIAL_BYTES = [b"\n", b"\r", b"\r\n", b"\t", b" ", b'"', b"\x00", b"\xff", b"\xc3", b"\xef\xbb\xbf", b"\xe2\x80\xa8",
                 b"-", b"1", b"B-", b"I-"]


@st.composite
def contents(draw, valid: bytes) -> bytes:
    """Random bytes, or ``valid`` with bytes deleted, replaced and inserted (line breaks, quotes, tabs, bad UTF-8)."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=200))
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["delete", "replace", "insert"]))
        piece = draw(st.one_of(st.sampled_from(SPECIAL_BYTES), st.binary(min_size=1, max_size=4)))
        if edit == "delete":
            del data[at:at + len(piece)]
        else:
            data[at:at + (len(piece) if edit == "replace" else 0)] = piece
    return bytes(data)


@st.composite
def files(draw, valid: bytes) -> tuple[bytes, str]:
    """(file bytes, suffix): the content as it is, or gzipped (perhaps cut short) as ``.gz``."""
    content = draw(contents(valid))
    if not draw(st.booleans()):
        return content, ""
    packed = gzip.compress(content)
    return packed[:draw(st.integers(0, len(packed)))], ".gz"


def reads_or_names(read, path: Path, *named: Path) -> None:
    """``read(path)`` returns, or raises a DataError that names ``path`` (or one of ``named``)."""
    try:
        read(path)
    except DataError as e:
        assert any(str(p) in str(e) for p in (path, *named)), str(e)


@pytest.mark.parametrize("name", READERS)
def test_readers_read_or_name_the_file(name):
    read, valid = READERS[name]

    @FUZZ
    @given(file=files(valid))
    def check(file):
        content, suffix = file
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"data{suffix}"
            path.write_bytes(content)
            reads_or_names(read, path)

    check()


@FUZZ
@given(source=files(b"one\ntwo\nthree\n"), target=files(b"un\ndeux\ntrois\n"))
def test_parallel_files_read_or_name_one_of_them(source, target):
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / "train"
        suffix = source[1] if source[1] == target[1] else ""  # both gzipped or neither
        src, tgt = Path(f"{prefix}.en{suffix}"), Path(f"{prefix}.fr{suffix}")
        src.write_bytes(source[0])
        tgt.write_bytes(target[0])
        reads_or_names(partial(read_parallel, src="en", tgt="fr"), prefix, src, tgt)


@FUZZ
@given(captions=contents(b"a cat\na dog\n"), rows=st.integers(0, 3), width=st.integers(0, 3),
       npy=st.one_of(st.none(), st.binary(max_size=100)))
def test_captions_read_or_name_a_file(captions, rows, width, npy):
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / "train"
        Path(f"{prefix}.txt").write_bytes(captions)
        if npy is None:
            np.save(f"{prefix}.npy", np.zeros((rows, width)))
        else:
            Path(f"{prefix}.npy").write_bytes(npy)
        reads_or_names(read_captions, prefix, Path(f"{prefix}.txt"), Path(f"{prefix}.npy"))


OPTIMIZER = {"_target_": "torch.optim.Adam", "_partial_": True}
ENCODER = {"_target_": "seqexp.models.encoder.Encoder", "cell": "lstm", "embedding_dim": 4, "hidden_size": 4}
VOCAB = [*SPECIALS, "a", "cat"]
MODELS = {  # small untrained heads: what is fuzzed is reading lines, not what the model says
    "tagger_with_chars": lambda: Tagger(
        labels=["B-X", "I-X", "O"], encoder={**ENCODER, "char": "cnn", "char_dim": 4, "char_out_dim": 4},
        vocab=VOCAB, chars=["<pad>", "<unk>", "a", "c", "t"], optimizer=OPTIMIZER,
        tokenizer={"tokenizer": "whitespace", "lowercase": True, "max_word_len": 50}),
    "classifier": lambda: Classifier(labels=["x", "y"], encoder=ENCODER, vocab=VOCAB, optimizer=OPTIMIZER,
                                     tokenizer={"tokenizer": "simple", "lowercase": True}),
    "generator_from_features": lambda: ConditionalGenerator(feature_dim=2, encoder=ENCODER, vocab=VOCAB,
                                                            optimizer=OPTIMIZER, max_len=3),
}


@pytest.mark.parametrize("name", MODELS)
def test_predict_gives_one_line_per_input_line_or_names_the_line(name):
    model = MODELS[name]()

    @settings(FUZZ, max_examples=25)
    @given(content=contents(b"a cat\n0.5 1\n" + b"x" * 300 + "\u2028cat\x0c\r\n".encode()))
    def check(content):
        try:
            lines = [line for _, line in split_lines(io.BytesIO(content), "in.txt")]
            rows = predict_lines(model, lines, "in.txt")
        except DataError as e:
            assert str(e).startswith("in.txt:"), str(e)
            return
        assert len(rows) == len(lines)
        assert len("".join(json_line(row) for row in rows).splitlines()) == len(lines)  # even for str.splitlines

    check()
