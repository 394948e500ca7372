"""Data generated from a seed, for the RNN lab's long-range tasks (task=adding, task=copy): no files, any size, the
same examples on every machine. Each split draws from its own generator seeded by ``data_seed``, whatever the
training seed, so runs (and sweeps) compare on the same data."""

import logging
from typing import Annotated

import torch

from seqexp.constraints import NonNegative, Range, Size
from seqexp.data.base import SPLITS, SeqDataModule
from seqexp.data.vocab import Vocabs
from seqexp.errors import ConfigError

log = logging.getLogger(__name__)

Length = Annotated[int, Range(2)]


class SyntheticDataModule(SeqDataModule):
    """Subclasses say what a model needs to know of the data (``make_vocabs``) and draw ``n`` examples as dicts of
    tensors, ``tokens`` first (``generate``); every sequence has ``length`` input steps or a fixed number more."""

    def __init__(self, length: Length = 100, train_size: Size = 10000, val_size: Size = 1000,
                 test_size: Size = 1000, data_seed: int = 1234, batch_size: Size = 64,
                 num_workers: Annotated[int, NonNegative] = 0, seed: int = 0, chars: bool = False):
        if chars:
            raise ConfigError("model.char: this task's inputs are not words; keep model.char=none")
        # no files to read: the base class's loaders, batching and device transfer are what is shared
        super().__init__(reader=None, train=(), batch_size=batch_size, bucket=False, num_workers=num_workers,
                         seed=seed)
        self.length, self.data_seed = length, data_seed
        self.sizes = {"train": train_size, "val": val_size, "test": test_size}

    def make_vocabs(self) -> Vocabs:
        raise NotImplementedError

    def generate(self, n: int, generator: torch.Generator) -> list[dict[str, torch.Tensor]]:
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        if self.vocabs is None:  # not given by use_vocabs
            self.vocabs = self.make_vocabs()
        for i, split in enumerate(SPLITS):
            generator = torch.Generator().manual_seed(self.data_seed * len(SPLITS) + i)
            items = self.generate(self.sizes[split], generator)
            self.datasets[split] = [{**item, "index": torch.tensor(j)} for j, item in enumerate(items)]
        log.info("data: %s, %d steps each", self.describe(), len(self.datasets["train"][0]["tokens"]))
