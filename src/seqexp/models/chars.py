"""Character-level word vectors, so tagging models see spelling: a CNN (Ma & Hovy 2016) or a BiLSTM (Lample et al.)."""

from typing import Annotated, Literal

import torch
from torch import Tensor, nn

from seqexp.constraints import Positive, Unit
from seqexp.errors import ConfigError
from seqexp.models import fused
from seqexp.models.packing import Lengths

Kind = Literal["cnn", "lstm"]


class CharEncoder(nn.Module):
    """``forward(chars [B, T, W], lengths [B, T]) -> [B, T, out_dim]``: one vector per word from its characters.

    ``chars`` holds each word's character ids padded with ``padding_idx`` after its end; padding words are
    all-``padding_idx`` rows and come out as zero vectors. A word's vector depends neither on the padding around
    it nor on the rest of the batch. Every row is encoded and the empty ones zeroed (no boolean indexing, which
    would wait for the GPU); ``lengths`` (characters per word as a batch brings them,
    ``seqexp.data.batch.lengths_of``, or a plain ``[B, T]`` tensor) is what the LSTM packs by.
    """

    def __init__(self, kind: Kind, num_chars: int, char_dim: Annotated[int, Positive] = 30,
                 out_dim: Annotated[int, Positive] = 50, kernel_size: Annotated[int, Positive] = 3,
                 dropout: Annotated[float, Unit] = 0.0, padding_idx: int = 0):
        super().__init__()
        if kind == "lstm" and out_dim % 2:  # ranges and choices: seqexp.run.schema, from model.* (Encoder)
            raise ConfigError(f"model.char_out_dim must be even for model.char=lstm (half per direction), "
                              f"got {out_dim}")
        if kind == "cnn" and kernel_size % 2 == 0:
            raise ConfigError(f"model.char_kernel_size must be odd so padding keeps every character's position, "
                              f"got {kernel_size}")
        self.kind, self.out_dim, self.padding_idx = kind, out_dim, padding_idx
        self.embedding = nn.Embedding(num_chars, char_dim, padding_idx=padding_idx)
        self.dropout = nn.Dropout(dropout)
        if kind == "cnn":
            self.conv = nn.Conv1d(char_dim, out_dim, kernel_size, padding=kernel_size // 2)
        else:
            self.lstm = fused.LSTM(char_dim, out_dim // 2, batch_first=True, bidirectional=True)

    def forward(self, chars: Tensor, lengths: Lengths | Tensor | None = None) -> Tensor:
        batch, steps, width = chars.shape
        flat = chars.reshape(batch * steps, width)  # [B*T, W]
        real = flat != self.padding_idx  # [B*T, W]
        x = self.dropout(self.embedding(flat))  # [B*T, W, C]
        if self.kind == "cnn":
            out = self._cnn(x, real)  # [B*T, out_dim]
        else:
            if not isinstance(lengths, Lengths):  # not a batch's: counted here, packed as torch packs
                counts = lengths.reshape(-1) if lengths is not None else real.sum(1)  # [B*T]
                lengths = Lengths.of(counts.clamp(min=1), x.device)
            out = self._lstm(x, lengths)  # [B*T, out_dim]
        out = out.masked_fill(~real[:, :1], 0.0)  # padding words (no first character) are zero vectors
        return out.view(batch, steps, self.out_dim)  # [B, T, out_dim]

    def _cnn(self, x: Tensor, real: Tensor) -> Tensor:
        """Convolve, then max over each word's real characters (pad embeddings are zero, like conv padding)."""
        h = self.conv(x.transpose(1, 2))  # [N, out_dim, W]
        return h.masked_fill(~real[:, None, :], float("-inf")).amax(dim=2)  # [N, out_dim]; -inf for empty words

    def _lstm(self, x: Tensor, lengths: Lengths) -> Tensor:
        """Final forward state (after the last char) joined with the final backward state (after the first);
        empty words are read as one padding character (``lengths`` at least 1) and zeroed by the caller."""
        _, (h, _) = self.lstm(lengths.pack(x))  # h: [2, N, out_dim/2], longest first
        h = lengths.unsort(h)  # [2, N, out_dim/2]
        return torch.cat((h[0], h[1]), dim=1)  # [N, out_dim]

