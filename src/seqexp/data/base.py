"""What every task's data has in common: split files, a val split carved from train, vocabularies built on
train alone, pretrained vectors aligned to the vocabulary, and length-bucketed loaders."""

import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Annotated, Literal

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from seqexp.constraints import Fraction, NonNegative, Range, Size
from seqexp.data.batch import collate, encode_words, to_device
from seqexp.data.batching import BucketBatchSampler, ResumableLoader
from seqexp.data.cache import CachedSplit, file_stats, progress
from seqexp.data.cache.cached import CachedData
from seqexp.data.fetch import fetch
from seqexp.data.splits import carve
from seqexp.data.text import tokenize
from seqexp.data.vectors import load_vectors
from seqexp.data.vocab import PAD, UNK, Vocab, Vocabs
from seqexp.errors import ConfigError, DataError, MissingFile

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
Files = str | Sequence[str]
"""A split's data: one file, or several read in order as one (``data.train=[train.conll,dev.conll]``)."""


def _files(value: Files | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return (value,) if isinstance(value, str) else tuple(str(v) for v in value)


class SeqDataModule(CachedData, pl.LightningDataModule):
    """Subclasses read examples (``read``), say which words they hold (``words``), build their labels
    (``task_vocabs``) and turn examples into dicts of tensors (``encode``): ``tokens [T]`` always, plus ``labels``
    (a scalar) or ``tags [T]``. ``vocabs`` is what a model needs of the data (``seqexp.data.vocab.Vocabs``).

    ``chars=True`` (set when the model reads characters) adds ``chars [T, W]`` per example from a character
    vocabulary of the raw training tokens (case kept, whatever ``lowercase`` does to words).

    ``cache=True`` (conf/data_defaults.yaml) encodes each split once into ``seqexp.data.cache`` under ``cache_dir``;
    later runs map those files instead of reading the corpus, with the same items, so the same batches.
    """

    def __init__(self, reader: Callable[[str], list], train: Files, val: Files | None = None, test: Files | None = None,
                 val_fraction: Annotated[float, Fraction] = 0.1,
                 test_fraction: Annotated[float, Range(0, 1, high_open=True)] = 0.0, split_seed: int = 1234,
                 tokenizer: Literal["whitespace", "simple"] = "whitespace",
                 lowercase: bool = False, min_freq: Size = 1, max_size: Size | None = None, max_len: Size = 1000,
                 max_word_len: Size = 50, vectors: str | None = None,
                 batch_size: Size = 32, bucket: bool = True, bucket_pool: Size = 100,
                 num_workers: Annotated[int, NonNegative] = 0, seed: int = 0,
                 chars: bool = False, hint: str | None = None, download: str | None = None,
                 download_dir: str = "data", cache: bool = False, cache_dir: str = "data/cache"):
        super().__init__()  # ranges and choices: seqexp.run.schema checks data.* against this signature
        self.max_len = max_len  # longer texts keep their first max_len tokens (each task says which texts)
        self.reader = reader  # a seqexp.data.readers / conll partial, from the data config's reader._target_
        self.paths = {"train": _files(train), "val": _files(val), "test": _files(test)}  # split -> paths | None
        self.val_fraction, self.test_fraction, self.split_seed = val_fraction, test_fraction, split_seed
        self.tokenizer, self.lowercase = tokenizer, lowercase
        self.min_freq, self.max_size, self.vectors_path = min_freq, max_size, vectors
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.pool = bucket_pool if bucket else 1  # batches sorted by length together: bigger, less padding
        self.use_chars = chars
        self.hint = hint  # what to do when a standard corpus is not there
        self.download, self.download_dir = download, download_dir
        self.max_word_len = max_word_len  # the character encoder reads each word's first max_word_len characters
        self.cache, self.cache_dir = cache, cache_dir
        self.datasets: dict[str, list] = {}
        self._examples: dict[str, list] | None = {}  # val and test as read; None: in the cache, not loaded yet
        self.vocabs: Vocabs | None = None  # built on train by setup, unless use_vocabs gave a model's
        self.vectors: torch.Tensor | None = None

    # -- what a task's data defines ---------------------------------------------------------------
    def read(self, path: str) -> list:
        """Examples of one file."""
        return self.reader(path)

    def words(self, example) -> list[str]:
        """The example's input tokens as they are in the file (before lowercasing)."""
        raise NotImplementedError

    def task_vocabs(self, train: list) -> dict:
        """The task's own ``Vocabs`` fields (labels, target vocabulary, feature size) from the training examples."""
        return {}

    def encode(self, example, path: str) -> dict[str, torch.Tensor]:
        """Tensors of one example, beyond ``tokens``; unseen labels are reported against ``path``."""
        raise NotImplementedError

    # -- shared -----------------------------------------------------------------------------------
    def prepare_data(self) -> None:
        """Fetch a standard corpus (``download: sst2``) into ``download_dir``, checksummed; a no-op once there."""
        if self.download:
            fetch(self.download, self.download_dir)

    def use_vocabs(self, vocabs: Vocabs) -> None:
        """Encode with a trained model's vocabularies instead of building new ones: evaluation of a checkpoint."""
        self.vocabs = vocabs

    def read_splits(self) -> dict[str, list]:
        """Examples per split: the files given, and val (and test, with ``test_fraction``) carved from train.
        ``self.origins[split]`` keeps the file each example came from, for error messages."""
        read = {split: self._read_split(split) for split in SPLITS if self.paths[split]}  # split -> [(path, ex)]
        for split, fraction in (("test", self.test_fraction), ("val", self.val_fraction)):
            if split not in read and (split == "val" or fraction):
                read["train"], read[split] = self.carve(read["train"], split, fraction)
        read = {split: read[split] for split in SPLITS if split in read}  # train, val, test order
        self.origins = {split: [path for path, _ in pairs] for split, pairs in read.items()}
        return {split: [ex for _, ex in pairs] for split, pairs in read.items()}

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        files = file_stats(p for paths in self.paths.values() if paths for p in paths) if self.cache else None
        if files is None:  # no cache, or a missing file that reading will report
            examples = self.read_splits()
            if self.vocabs is None:  # not given by use_vocabs
                self.vocabs = self.build_vocabs(examples["train"])
            for split, exs in examples.items():
                self.datasets[split] = self.encode_split(split, exs)
            self._examples = {split: exs for split, exs in examples.items() if split != "train"}
        else:
            self.from_cache(files)
        if self.vectors_path:
            vocab = self.vocabs.vocab
            self.vectors = load_vectors(self.vectors_path, vocab.itos, pad_index=vocab.pad_index)
        log.info("data: %s", self.describe())

    def build_vocabs(self, train: list) -> Vocabs:
        """Words (and characters, when the model reads them) of the training examples, plus the task's own."""
        words, chars = Counter(), Counter()
        for ex in progress(train, "training examples counted"):  # counts only: the words are never all held
            ws = self.words(ex)
            words.update(self.norm(w) for w in ws)
            if self.use_chars:
                chars.update(c for w in ws for c in w[:self.max_word_len])
        vocab = Vocab.from_counts(words, self.min_freq, self.max_size)
        return Vocabs(vocab, chars=Vocab.from_counts(chars, specials=(PAD, UNK)) if self.use_chars else None,
                      singletons=vocab.singletons(words),
                      tokenizer={"tokenizer": self.tokenizer, "lowercase": self.lowercase,
                                 "max_word_len": self.max_word_len}, **self.task_vocabs(train))

    def encode_split(self, split: str, examples: list) -> list:
        """The split's items, one dict of tensors per example; ``index`` is its place in the split (``example``)."""
        return list(self.items(split, examples))

    def items(self, split: str, examples: list) -> Iterator[dict[str, torch.Tensor]]:
        """``encode_split``'s items one at a time: the cache writes each as it comes."""
        if self.vocabs.chars is not None:
            self.count_long_words(split, examples)
        for i, (ex, path) in enumerate(zip(examples, self.origins[split], strict=True)):
            yield {**self._encode(ex, path), "index": torch.tensor(i)}

    def example(self, split: str, index: int):
        """A val or test example as read from its file, original words and all: what prediction tables show."""
        return self.examples[split][index]

    def describe(self) -> str:
        """What was read, for the log."""
        return ", ".join(f"{s} {len(d):,}" for s, d in self.datasets.items())

    def count_overlong(self, path: str, examples: list) -> list:
        """Log how many examples' ``text`` will be truncated to ``max_len`` tokens; returns the examples."""
        overlong = sum(len(tokenize(ex.text, self.tokenizer)) > self.max_len for ex in examples)
        if overlong:
            log.warning("%s: %d text(s) longer than data.max_len=%d tokens, truncated", path, overlong,
                        self.max_len)
        return examples

    def label_set(self, labels: list[str], what: str) -> Vocab:
        """The training set's labels (or tags) as a label map; with fewer than two there is nothing to learn, and
        the metrics would fail later with a message that names neither the file nor the remedy."""
        vocab = Vocab.labels(labels)
        if len(vocab) < 2:
            files = ", ".join(self.paths["train"])
            found = f"only {what} {vocab.itos[0]!r}" if vocab.itos else f"no {what}s"
            raise DataError(f"data.train ({files}): {found} in the training data; a model needs at least two "
                            f"{what}s to tell apart")
        return vocab

    def count_long_words(self, split: str, examples: list) -> None:
        """Log how many words the character encoder reads only the first ``max_word_len`` characters of: one
        runaway "word" (a URL, a base64 blob) must not pad every word of its batch to its length."""
        long = sum(len(w) > self.max_word_len for ex in examples for w in self.words(ex))
        if long:
            log.warning("data.%s: %d word(s) longer than data.max_word_len=%d characters; their character features "
                        "read the first %d", split, long, self.max_word_len, self.max_word_len)

    def norm(self, word: str) -> str:
        return word.lower() if self.lowercase else word

    def _encode(self, example, path: str) -> dict[str, torch.Tensor]:
        words = self.words(example)
        if not words:
            raise DataError(f"{path}:{example.line}: the text has no tokens")
        vocabs = self.vocabs
        return {**encode_words(words, vocabs.vocab, self.lowercase, vocabs.chars, self.max_word_len),
                **self.encode(example, path)}

    collate = staticmethod(collate)

    def transfer_batch_to_device(self, batch: dict[str, torch.Tensor], device: torch.device,
                                 dataloader_idx: int) -> dict[str, torch.Tensor]:
        return to_device(batch, device)

    def _read_split(self, split: str) -> list[tuple[str, object]]:
        """``(path, example)`` for every example of the split's files, in order."""
        pairs = []
        for path in self.paths[split]:
            try:
                pairs += [(path, ex) for ex in self.read(path)]
            except MissingFile as e:
                raise DataError(f"data.{split}: {e}" + (f" ({self.hint})" if self.hint else "")) from None
        return pairs

    def carve(self, train: list, split: str, fraction: float) -> tuple[list, list]:
        """``(train, split)``: the split carved from train (``seqexp.data.splits.carve``), by ``split_seed``."""
        return carve(train, split, fraction, self.split_seed)

    def replicas(self) -> tuple[int, int]:
        """(processes, this one's rank) of the trainer the data is attached to: DDP shards batches by these."""
        trainer = getattr(self, "trainer", None)
        return (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)

    def _loader(self, split: str, train: bool = False) -> DataLoader:
        data = self.datasets[split]
        replicas, rank = self.replicas()
        lengths = data.lengths() if isinstance(data, CachedSplit) else [len(x["tokens"]) for x in data]
        sampler = BucketBatchSampler(lengths, self.batch_size, shuffle=train,
                                     seed=self.seed, pool=self.pool, replicas=replicas, rank=rank)
        if train:  # an interrupted run resumes mid-epoch (run.callbacks.Interrupt)
            return ResumableLoader(data, batch_sampler=sampler, collate_fn=self.collate, num_workers=self.num_workers,
                                   trained=lambda: self.trainer.fit_loop.epoch_loop.batch_progress.current.processed)
        return DataLoader(data, batch_sampler=sampler, collate_fn=self.collate, num_workers=self.num_workers)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        if "test" not in self.datasets:
            raise ConfigError("data.test is not set: there is no test split to evaluate")
        return self._loader("test")

