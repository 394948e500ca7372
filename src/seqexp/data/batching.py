"""Length-bucketed batching: a recurrent net pays for every padding step, so batch similar lengths."""

import math
from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of similar-length examples.

    Training: shuffle, cut into pools of ``pool`` batches, sort each pool by length, slice it into batches,
    shuffle the batch order. Deterministic for a given ``seed`` and epoch (Lightning calls ``set_epoch``),
    so a resumed run sees the same batches. Evaluation (``shuffle=False``): one global sort, least padding.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, shuffle: bool = True, seed: int = 0,
                 pool: int = 100):
        super().__init__()
        self.lengths = torch.as_tensor(lengths)
        self.batch_size, self.shuffle, self.seed, self.pool = batch_size, shuffle, seed, pool
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        n = len(self.lengths)
        if not self.shuffle:
            order = torch.sort(self.lengths, stable=True).indices
            yield from (b.tolist() for b in order.split(self.batch_size))
            return
        # seed and epoch both matter: (seed 1, epoch 1) must not replay (seed 2, epoch 0)
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(n, generator=g)
        batches = []
        for chunk in order.split(self.batch_size * self.pool):
            chunk = chunk[torch.sort(self.lengths[chunk], stable=True).indices]
            batches.extend(chunk.split(self.batch_size))
        for i in torch.randperm(len(batches), generator=g).tolist():
            yield batches[i].tolist()


def padding_ratio(lengths: Sequence[int], batches: Iterator[list[int]]) -> float:
    """Padded positions / all positions for a batching of examples with these lengths."""
    real = padded = 0
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        real += sum(lengths[i] for i in batch)
        padded += longest * len(batch)
    return 1 - real / padded if padded else 0.0
