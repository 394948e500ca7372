"""Length-bucketed batching: a recurrent net pays for every padding step, so batch similar lengths."""

import math
from collections.abc import Callable, Iterator, Sequence

import torch
from torch.utils.data import DataLoader, Sampler


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of similar-length examples.

    Training: shuffle, cut into pools of ``pool`` batches, sort each pool by length, slice it into batches,
    shuffle the batch order. Deterministic for a given ``seed`` and epoch (Lightning calls ``set_epoch``),
    so a resumed run sees the same batches. Evaluation (``shuffle=False``): one global sort, least padding.

    Distributed (``replicas`` > 1): every process builds the same batches and takes every ``replicas``-th one
    from ``rank`` on, so bucketing survives sharding. Training repeats the first batches so that each process
    runs as many steps (DDP needs that); evaluation does not, so every example is scored exactly once.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, shuffle: bool = True, seed: int = 0,
                 pool: int = 100, replicas: int = 1, rank: int = 0):
        super().__init__()
        self.lengths = torch.as_tensor(lengths)
        self.batch_size, self.shuffle, self.seed, self.pool = batch_size, shuffle, seed, pool
        self.replicas, self.rank = replicas, rank
        self.epoch = 0
        self.skip = 0  # batches of the next epoch to leave out: those a run interrupted mid-epoch trained on

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        batches = math.ceil(len(self.lengths) / self.batch_size)
        if self.shuffle:
            return math.ceil(batches / self.replicas)
        return len(range(self.rank, batches, self.replicas))

    def __iter__(self) -> Iterator[list[int]]:
        batches = self._shuffled() if self.shuffle else torch.sort(self.lengths, stable=True).indices.split(
            self.batch_size)
        if self.shuffle and len(batches) % self.replicas:
            batches = [*batches, *batches[:self.replicas - len(batches) % self.replicas]]
        skip, self.skip = self.skip, 0
        yield from (b.tolist() for b in batches[self.rank::self.replicas][skip:])

    def _shuffled(self) -> list[torch.Tensor]:
        # seed and epoch both matter: (seed 1, epoch 1) must not replay (seed 2, epoch 0)
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(len(self.lengths), generator=g)
        batches = []
        for chunk in order.split(self.batch_size * self.pool):
            chunk = chunk[torch.sort(self.lengths[chunk], stable=True).indices]
            batches.extend(chunk.split(self.batch_size))
        return [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]


class ResumableLoader(DataLoader):
    """A loader of BucketBatchSampler batches that Lightning resumes mid-epoch: its state, saved in checkpoints,
    is how many batches of the epoch were trained (``trained()``, from the trainer: the loader itself has fetched
    one more), and a loader restored from it leaves them out, so the resumed epoch trains on the rest in order."""

    def __init__(self, *args, trained: Callable[[], int], **kwargs):
        super().__init__(*args, **kwargs)
        self.trained = trained

    def state_dict(self) -> dict:
        return {"trained": self.trained()}

    def load_state_dict(self, state: dict) -> None:
        self.batch_sampler.skip = state["trained"] % len(self.batch_sampler)  # a whole epoch: skip none


def padding_ratio(lengths: Sequence[int], batches: Iterator[list[int]]) -> float:
    """Padded positions / all positions for a batching of examples with these lengths."""
    real = padded = 0
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        real += sum(lengths[i] for i in batch)
        padded += longest * len(batch)
    return 1 - real / padded if padded else 0.0
