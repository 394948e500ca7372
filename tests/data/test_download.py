import dataclasses
import hashlib
import io
import logging
import os
import tarfile
import urllib.request
import zipfile
from pathlib import Path

import pytest

from helpers import run_module
from seqexp.data.download import main
from seqexp.data.fetch import fetch
from seqexp.data.readers import read_tsv
from seqexp.data.registry import CORPORA, Corpus, Remote
from seqexp.errors import DataError


def serve(tmp_path: Path, name: str, data: bytes) -> str:
    """Put ``data`` where a file:// URL reaches it, as a server would hold the upstream file."""
    path = tmp_path / "upstream" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path.as_uri()


def unreachable(tmp_path: Path, name: str) -> str:
    return (tmp_path / "nowhere" / name).as_uri()


def register(monkeypatch, *files: Remote, **fields) -> str:
    """A test-only corpus ``toy`` in the registry (undone after the test)."""
    monkeypatch.setitem(CORPORA, "toy", Corpus("a test corpus", "test only", files, **fields))
    return "toy"


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


def tar_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part"))


def test_plain_file_downloads_and_verifies(tmp_path, monkeypatch):
    data = b"the cat sat\n"
    corpus_dir = fetch(register(monkeypatch, Remote(serve(tmp_path, "train.txt", data), md5(data))), tmp_path / "data")
    assert corpus_dir == tmp_path / "data" / "toy"
    assert (corpus_dir / "train.txt").read_bytes() == data
    assert (corpus_dir / ".train.txt.verified").is_file()
    assert leftovers(corpus_dir) == []


@pytest.mark.parametrize("archive", ["toy.zip", "toy.tar.gz", "toy.tgz"])
def test_archive_extracts_the_listed_members(tmp_path, monkeypatch, archive):
    members = {"toy/a.txt": b"alpha\n", "toy/b.txt": b"beta\n", "toy/README": b"not wanted\n"}
    data = zip_bytes(members) if archive.endswith(".zip") else tar_bytes(members)
    remote = Remote(serve(tmp_path, archive, data), hashlib.sha256(data).hexdigest(), "sha256",
                    {"toy/a.txt": "train.txt", "toy/b.txt": "test.txt"})
    corpus_dir = fetch(register(monkeypatch, remote), tmp_path / "data")
    assert (corpus_dir / "train.txt").read_bytes() == b"alpha\n"
    assert (corpus_dir / "test.txt").read_bytes() == b"beta\n"
    assert not (corpus_dir / "README").exists()
    assert leftovers(corpus_dir) == []


def test_second_fetch_does_not_download_again(tmp_path, monkeypatch):
    plain, packed = b"one\n", zip_bytes({"x/dev.txt": b"two\n"})
    name = register(monkeypatch, Remote(serve(tmp_path, "train.txt", plain), md5(plain)),
                    Remote(serve(tmp_path, "x.zip", packed), md5(packed), archive_members={"x/dev.txt": "dev.txt"}))
    corpus_dir = fetch(name, tmp_path / "data")
    gone = {"train.txt": unreachable(tmp_path, "train.txt"), "x.zip": unreachable(tmp_path, "x.zip")}
    assert fetch(name, tmp_path / "data", urls=gone) == corpus_dir
    assert (corpus_dir / "train.txt").read_bytes() == plain
    assert (corpus_dir / "dev.txt").read_bytes() == b"two\n"


def test_a_download_placed_by_hand_is_verified_and_used(tmp_path, monkeypatch):
    packed = zip_bytes({"x/dev.txt": b"two\n"})
    name = register(monkeypatch, Remote(unreachable(tmp_path, "x.zip"), md5(packed),
                                        archive_members={"x/dev.txt": "dev.txt"}))
    corpus_dir = tmp_path / "data" / name
    corpus_dir.mkdir(parents=True)
    (corpus_dir / "x.zip").write_bytes(packed)
    assert (fetch(name, tmp_path / "data") / "dev.txt").read_bytes() == b"two\n"
    (corpus_dir / "x.zip").write_bytes(b"something else")
    (corpus_dir / ".x.zip.verified").unlink()
    with pytest.raises(DataError, match=r"checksum mismatch for x\.zip: .* delete it to download it"):
        fetch(name, tmp_path / "data")
    assert (corpus_dir / "x.zip").read_bytes() == b"something else"  # the user's file is theirs to replace


def test_checksum_mismatch_names_file_and_digests_and_leaves_nothing(tmp_path):
    fake = b"not the penn treebank\n"
    url = serve(tmp_path, "ptb.train.txt", fake)
    with pytest.raises(DataError) as caught:
        fetch("ptb", tmp_path / "data", urls={"ptb.train.txt": url})
    message = str(caught.value)
    assert "\n" not in message
    assert "ptb.train.txt" in message
    assert "f26c4b92c5fdc7b3f8c7cdcb991d8420" in message  # torchtext's pinned md5
    assert md5(fake) in message
    assert url in message
    assert list((tmp_path / "data" / "ptb").iterdir()) == []


def test_unreachable_url_gives_the_offline_message(tmp_path):
    url = unreachable(tmp_path, "ptb.train.txt")
    with pytest.raises(DataError) as caught:
        fetch("ptb", tmp_path / "data", urls={"ptb.train.txt": url})
    message = str(caught.value)
    target = tmp_path / "data" / "ptb" / "ptb.train.txt"
    assert message.startswith(f"could not download {url} (")
    assert message.endswith(f"); download it yourself and put it at {target}")
    assert "\n" not in message
    assert list(target.parent.iterdir()) == []


def test_interrupted_download_leaves_no_file(tmp_path, monkeypatch):
    class Dropping(io.RawIOBase):
        """A response whose connection drops after the first bytes."""

        sent = False

        def read(self, size=-1):
            if self.sent:
                raise ConnectionResetError("connection reset by peer")
            self.sent = True
            return b"partial"

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: Dropping())
    name = register(monkeypatch, Remote("https://example.org/train.txt", md5(b"whole\n")))
    with pytest.raises(DataError, match=r"could not download https://example.org/train.txt \(connection reset"):
        fetch(name, tmp_path / "data")
    assert list((tmp_path / "data" / name).iterdir()) == []


def test_unpinned_checksum_warns_with_the_sha256(tmp_path, monkeypatch, caplog):
    data = b"unpinned\n"
    name = register(monkeypatch, Remote(serve(tmp_path, "train.txt", data), None))
    with caplog.at_level(logging.WARNING, logger="seqexp.data.download"):
        corpus_dir = fetch(name, tmp_path / "data")
    assert (corpus_dir / "train.txt").read_bytes() == data
    assert "train.txt is unverified" in caplog.text
    assert hashlib.sha256(data).hexdigest() in caplog.text
    assert not (corpus_dir / ".train.txt.verified").exists()


def test_corrupt_archive(tmp_path, monkeypatch):
    name = register(monkeypatch, Remote(serve(tmp_path, "x.zip", b"PK not really a zip"), None,
                                        archive_members={"x/dev.txt": "dev.txt"}))
    with pytest.raises(DataError, match=r"corrupt archive .*x\.zip \(BadZipFile"):
        fetch(name, tmp_path / "data")
    assert not (tmp_path / "data" / name / "dev.txt").exists()


def test_truncated_tar_is_a_corrupt_archive(tmp_path, monkeypatch):
    data = tar_bytes({"x/dev.txt": os.urandom(50_000)})[:-2000]
    name = register(monkeypatch, Remote(serve(tmp_path, "x.tar.gz", data), None,
                                        archive_members={"x/dev.txt": "dev.txt"}))
    with pytest.raises(DataError, match=r"corrupt archive .*x\.tar\.gz"):
        fetch(name, tmp_path / "data")
    assert not (tmp_path / "data" / name / "dev.txt").exists()


def test_archive_without_a_listed_member(tmp_path, monkeypatch):
    data = zip_bytes({"x/other.txt": b"?"})
    name = register(monkeypatch, Remote(serve(tmp_path, "x.zip", data), md5(data),
                                        archive_members={"x/dev.txt": "dev.txt"}))
    with pytest.raises(DataError, match=r"x\.zip has no member x/dev\.txt"):
        fetch(name, tmp_path / "data")


def test_unknown_corpus_lists_the_known_ones(tmp_path):
    with pytest.raises(DataError, match=r"unknown corpus 'ptb2'; known corpora: .*ag_news.*imdb.*ptb.*sst2"):
        fetch("ptb2", tmp_path)
    assert not (tmp_path / "ptb2").exists()


def test_url_override_for_no_file_is_refused(tmp_path):
    with pytest.raises(DataError, match=r"urls: ptb has no file ptb\.txt to override \(its files: ptb\.train\.txt"):
        fetch("ptb", tmp_path, urls={"ptb.txt": "file:///x"})


def test_conll2003_says_where_to_put_the_files(tmp_path):
    corpus_dir = tmp_path / "conll2003"
    with pytest.raises(DataError) as caught:
        fetch("conll2003", tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert f"put eng.train, eng.testa, eng.testb in {corpus_dir}" in message
    for name in ("eng.train", "eng.testa", "eng.testb"):
        (corpus_dir / name).write_text("EU NNP B-NP B-ORG\n")
    assert fetch("conll2003", tmp_path) == corpus_dir


def test_imdb_reviews_become_one_tsv_line_each(tmp_path, monkeypatch):
    reviews = {
        "aclImdb/train/pos/0_9.txt": (b"Great film.<br /><br />Really\tgood.\n", "Great film. Really good."),
        "aclImdb/train/neg/1_2.txt": ('"Awful" \u2014 said everyone.'.encode(), '"Awful" \u2014 said everyone.'),
        "aclImdb/train/neg/2_1.txt": (b"Bad\r\nacting", "Bad acting"),
        "aclImdb/test/pos/3_8.txt": (b"Lovely", "Lovely"),
        "aclImdb/test/neg/4_3.txt": (b"Dull", "Dull"),
    }
    archive = tar_bytes({**{k: raw for k, (raw, _) in reviews.items()},
                         "aclImdb/train/unsup/5_0.txt": b"no label", "aclImdb/README": b"read me",
                         "aclImdb/imdb.vocab": b"the\n"})
    real = CORPORA["imdb"]
    monkeypatch.setitem(CORPORA, "imdb", dataclasses.replace(
        real, files=(dataclasses.replace(real.files[0], url=serve(tmp_path, "aclImdb_v1.tar.gz", archive),
                                         checksum=md5(archive)),)))
    corpus_dir = fetch("imdb", tmp_path / "data")
    assert sorted(p.name for p in corpus_dir.iterdir() if not p.name.startswith(".")) == [
        "aclImdb_v1.tar.gz", "test.tsv", "train.tsv"]
    for split, count in (("train", 3), ("test", 2)):
        lines = (corpus_dir / f"{split}.tsv").read_text(encoding="utf-8").split("\n")
        assert lines[-1] == "" and len(lines) == count + 1
        assert all(line.count("\t") == 1 and "\r" not in line for line in lines[:-1])
        expected = {(text, key.split("/")[2]) for key, (_, text) in reviews.items() if key.split("/")[1] == split}
        assert {(ex.text, ex.label) for ex in read_tsv(corpus_dir / f"{split}.tsv", quoting="csv")} == expected


def test_registry_entries_are_well_formed():
    lengths = {"md5": 32, "sha256": 64}
    for name, corpus in CORPORA.items():
        assert corpus.description and corpus.license, name
        assert corpus.expected(), name
        for remote in corpus.files:
            assert remote.url.startswith(("https://", "http://")), name
            assert remote.checksum is not None and len(remote.checksum) == lengths[remote.algorithm], remote.url
            archive = remote.filename.endswith((".zip", ".tar.gz", ".tgz"))
            assert archive == (remote.archive_members is not None or corpus.prepare is not None), remote.url


def test_cli_prints_the_directory(tmp_path, monkeypatch, capsys):
    data = b"x\n"
    name = register(monkeypatch, Remote(serve(tmp_path, "train.txt", data), md5(data)))
    assert main([name, f"data_dir={tmp_path / 'data'}"]) == 0
    assert capsys.readouterr().out == f"{tmp_path / 'data' / name}\n"


@pytest.mark.parametrize(("name", "error"), [("nope", "error: unknown corpus 'nope'; known corpora: "),
                                             ("conll2003", "error: conll2003 has no public download (")])
def test_cli_fails_with_one_line_and_exit_code_2(tmp_path, name, error):
    proc = run_module("seqexp.data.download", name, f"data_dir={tmp_path}", timeout=120)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith(error) and proc.stderr.count("\n") == 1
