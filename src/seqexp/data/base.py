"""What every task's data has in common: split files, a val split carved from train, vocabularies built on
train alone, pretrained vectors aligned to the vocabulary, and length-bucketed loaders."""

import logging
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from seqexp.data.batching import BucketBatchSampler
from seqexp.data.text import tokenize
from seqexp.data.vectors import load_vectors
from seqexp.errors import ConfigError, DataError

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


class SeqDataModule(pl.LightningDataModule):
    """Subclasses read examples (``read``), turn them into tensors (``encode``) and batch them (``collate``)."""

    def __init__(self, train: str, val: str | None = None, test: str | None = None, val_fraction: float = 0.1,
                 split_seed: int = 1234, tokenizer: str = "whitespace", lowercase: bool = False,
                 min_freq: int = 1, max_size: int | None = None, vectors: str | None = None,
                 batch_size: int = 32, bucket: bool = True, num_workers: int = 0, seed: int = 0):
        super().__init__()
        if batch_size < 1:
            raise ConfigError(f"data.batch_size must be a positive integer, got {batch_size}")
        if val is None and not 0 < val_fraction < 1:
            raise ConfigError(f"data.val_fraction must be in (0, 1) when data.val is not set, got {val_fraction}")
        if min_freq < 1:
            raise ConfigError(f"data.min_freq must be >= 1, got {min_freq}")
        self.paths = {"train": train, "val": val, "test": test}
        self.val_fraction, self.split_seed = val_fraction, split_seed
        self.tokenizer, self.lowercase = tokenizer, lowercase
        self.min_freq, self.max_size, self.vectors_path = min_freq, max_size, vectors
        self.batch_size, self.bucket, self.num_workers, self.seed = batch_size, bucket, num_workers, seed
        tokenize("", tokenizer)  # fail on an unknown tokenizer now, not after reading the data
        self.datasets: dict[str, list] = {}
        self.vectors: torch.Tensor | None = None

    # -- what a task's data defines ---------------------------------------------------------------
    def read(self, path: str) -> list:
        """Examples of one file."""
        raise NotImplementedError

    def build_vocabs(self, train: list) -> None:
        """Vocabularies and label maps from the training examples."""
        raise NotImplementedError

    def encode(self, examples: list, path: str) -> list:
        """Tensors of each example; unseen labels are reported against ``path``."""
        raise NotImplementedError

    def collate(self, items: list) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def model_args(self) -> dict:
        """What the model needs to know of the data (vocabularies, labels, preprocessing): sizes flow from here."""
        raise NotImplementedError

    # -- shared -----------------------------------------------------------------------------------
    def tokens(self, text: str) -> list[str]:
        return tokenize(text, self.tokenizer, self.lowercase)

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        examples = {split: self._read_split(split) for split in SPLITS if self.paths[split]}
        if "val" not in examples:
            examples["train"], examples["val"] = self._carve_val(examples["train"])
            self.paths["val"] = self.paths["train"]
        self.build_vocabs(examples["train"])
        for split, exs in examples.items():
            self.datasets[split] = self.encode(exs, self.paths[split])
        if self.vectors_path:
            self.vectors = load_vectors(self.vectors_path, self.vocab.itos, pad_index=self.vocab.pad_index)
        log.info("data: %s", ", ".join(f"{s} {len(d):,}" for s, d in self.datasets.items()))

    def _read_split(self, split: str) -> list:
        path = self.paths[split]
        if not Path(path).is_file():
            raise DataError(f"data.{split}: file not found: {path}")
        return self.read(path)

    def _carve_val(self, train: list) -> tuple[list, list]:
        """A fixed-seed val split, the same whatever the training seed, so runs compare on the same data."""
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(self.split_seed)).tolist()
        n_val = max(1, round(len(train) * self.val_fraction))
        return [train[i] for i in sorted(order[n_val:])], [train[i] for i in sorted(order[:n_val])]

    def length(self, item) -> int:
        return len(item[0])

    def _loader(self, split: str, train: bool = False) -> DataLoader:
        data = self.datasets[split]
        sampler = BucketBatchSampler([self.length(x) for x in data], self.batch_size, shuffle=train,
                                     seed=self.seed, pool=100 if self.bucket else 1)
        return DataLoader(data, batch_sampler=sampler, collate_fn=self.collate, num_workers=self.num_workers)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        if "test" not in self.datasets:
            raise ConfigError("data.test is not set: there is no test split to evaluate")
        return self._loader("test")
