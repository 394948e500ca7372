"""The adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015): read ``length`` (value, marker) pairs and
output the sum of the two marked values. The answer depends on two steps far apart and nothing between: a test of
memory over time that a vanilla RNN fails at length 100."""

import torch

from seqexp.data.synthetic import SyntheticDataModule
from seqexp.data.vocab import PAD, UNK, Vocab, Vocabs


class AddingDataModule(SyntheticDataModule):
    """Items: ``tokens [T, 2]`` (value ~ U[0, 1], marker 0/1: one marker in the first half, one in the second) and
    ``target``, the sum of the two marked values. Always answering 1.0 scores MSE 1/6 (about 0.167)."""

    def make_vocabs(self) -> Vocabs:
        return Vocabs(Vocab([PAD, UNK]), input_dim=2)  # vectors, not word ids: the encoder has no embedding

    def generate(self, n: int, generator: torch.Generator) -> list[dict[str, torch.Tensor]]:
        steps, half = self.length, self.length // 2
        values = torch.rand(n, steps, generator=generator)  # [N, T]
        rows = torch.arange(n)
        first = torch.randint(0, half, (n,), generator=generator)  # [N]
        second = torch.randint(half, steps, (n,), generator=generator)  # [N]
        markers = torch.zeros(n, steps)  # [N, T]
        markers[rows, first] = markers[rows, second] = 1.0
        tokens = torch.stack([values, markers], dim=-1)  # [N, T, 2]
        target = values[rows, first] + values[rows, second]  # [N]
        return [{"tokens": tokens[i], "target": target[i]} for i in range(n)]
