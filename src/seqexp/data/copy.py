"""Copy memory (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016): read ``symbols`` random symbols, a blank
stretch of ``length`` steps and a delimiter, then write the symbols back in order. The model must hold them,
untouched, over the whole blank stretch."""

from typing import Annotated

import torch

from seqexp.constraints import Range, Size
from seqexp.data.synthetic import Length, SyntheticDataModule
from seqexp.data.vocab import PAD, UNK, Vocab, Vocabs

BLANK, DELIMITER = "_", ":"


class CopyDataModule(SyntheticDataModule):
    """Items: ``tokens [S + length + 1 + S]`` = the S symbols, ``length`` blanks, the delimiter, S blanks (during
    which the model writes); ``target [S]`` the symbols as ids of the alphabet (``labels``). A memoryless model
    guesses: accuracy 1/alphabet, cross-entropy log(alphabet)."""

    def __init__(self, symbols: Size = 10, alphabet: Annotated[int, Range(2, 26)] = 8, length: Length = 100,
                 **kwargs):
        super().__init__(length=length, **kwargs)
        self.symbols, self.alphabet = symbols, alphabet

    def make_vocabs(self) -> Vocabs:
        letters = [chr(ord("a") + i) for i in range(self.alphabet)]
        return Vocabs(Vocab([PAD, UNK, BLANK, DELIMITER, *letters]), labels=Vocab(letters))

    def generate(self, n: int, generator: torch.Generator) -> list[dict[str, torch.Tensor]]:
        vocab = self.vocabs.vocab
        first = vocab.stoi["a"]  # letters are the vocabulary's last entries, in order
        target = torch.randint(0, self.alphabet, (n, self.symbols), generator=generator)  # [N, S]

        def fill(token: str, steps: int) -> torch.Tensor:
            return torch.full((n, steps), vocab.stoi[token])  # [N, steps]

        tokens = torch.cat([target + first, fill(BLANK, self.length), fill(DELIMITER, 1), fill(BLANK, self.symbols)],
                           dim=1)  # [N, S + length + 1 + S]
        return [{"tokens": tokens[i], "target": target[i]} for i in range(n)]
