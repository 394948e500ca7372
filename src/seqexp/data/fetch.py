"""Download a standard corpus into DATA_DIR/NAME, checksummed and extracted, unless it is already there.

Each download is kept in the corpus dir, so later runs (and runs without network) find it there. Every file
takes its final name with ``os.replace`` from a temp file beside it, so an interrupted download or extraction
never leaves a file that looks complete. A ``.NAME.verified`` marker records that a download matched its pinned
checksum and that its files were written from it; those files are not checked again.
"""

import gzip
import hashlib
import http.client
import logging
import os
import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

from seqexp.data.archives import atomic, members
from seqexp.data.registry import CORPORA, Corpus, Remote
from seqexp.errors import DataError

log = logging.getLogger(__name__)

TIMEOUT = 30  # seconds without data before a download is given up
CHUNK = 1 << 20
# What a broken zip, tar or gzip stream raises while it is read.
_BROKEN_ARCHIVE = (zipfile.BadZipFile, tarfile.TarError, gzip.BadGzipFile, EOFError, zlib.error)


def default_data_dir() -> str:
    """conf/train.yaml's ``data_dir`` outside a run: ``$SEQEXP_DATA_DIR``, else ``data``."""
    return os.environ.get("SEQEXP_DATA_DIR", "data")


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
    with atomic(dest) as tmp:
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
    for member, f in members(archive):
        if member in wanted:
            with atomic(corpus_dir / wanted.pop(member)) as tmp, tmp.open("wb") as out:
                shutil.copyfileobj(f, out, CHUNK)
    if wanted:
        raise DataError(f"archive {archive} has no member {', '.join(wanted)}; its layout changed upstream, or it "
                        "is not the expected file: delete it and download it again")
