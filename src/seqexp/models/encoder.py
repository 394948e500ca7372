"""The one word encoder every head shares: embedding + stacked (bi)RNN/GRU/LSTM, cuDNN or hand-written."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

import torch
from torch import Tensor, nn

from seqexp.constraints import Positive, Size, Unit
from seqexp.errors import ConfigError
from seqexp.models.cells import ScratchRNN
from seqexp.models.chars import CharEncoder, Kind
from seqexp.models.custom import CellRNN, load_cell
from seqexp.models.fused import FUSED_CLASSES
from seqexp.models.init import INITS, initialise
from seqexp.models.packing import Lengths
from seqexp.models.recurrence import CELLS, FUSED, Probe

Dropout = Annotated[float, Unit]


class Encoder(nn.Module):
    """``forward(tokens_or_embeddings, lengths) -> (outputs [B, T, D*H], final [B, D*H], state)``.

    ``impl=cudnn`` runs torch.nn's fused kernels on packed sequences; ``impl=scratch`` runs our cells
    (seqexp.models.cells), equal to torch.nn given the same weights, and the only home of the LayerNorm-LSTM.
    ``char=cnn|lstm`` concatenates a character-level word vector to each word embedding (Ma & Hovy 2016,
    Lample et al. 2016); the batch then carries ``chars [B, T, W]``. ``cell`` may also be an import path,
    ``mypkg.cells.PeepholeLSTM``: a cell of your own (seqexp.models.custom), with ``impl=scratch``.
    ``input_dim`` (set by data of real-valued vectors, task=adding): the inputs ``[B, T, input_dim]`` feed the
    RNN as they are, with no embedding. ``compile_step`` (``impl=scratch``): each time step runs through
    torch.compile (seqexp.models.cells.compiled_advance), once compiled. ``init`` (seqexp.models.init): how the
    recurrent weights start, the same draw for either ``impl``; ``init_tmax``: chrono's longest memory span and
    IndRNN's bound; ``nonlinearity``: the Elman rnn's tanh or relu.
    """

    def __init__(self, vocab_size: int, cell: str = "lstm", embedding_dim: Size = 100, hidden_size: Size = 256,
                 num_layers: Size = 1, bidirectional: bool = False, dropout: Dropout = 0.0,
                 embedding_dropout: Dropout = 0.0, word_dropout: Dropout = 0.0, singleton_dropout: Dropout = 0.0,
                 singletons: int = 0, impl: Literal["cudnn", "scratch"] = "cudnn",
                 freeze_embeddings: bool = False, char: Literal["none"] | Kind = "none", char_dim: Size = 30,
                 char_out_dim: Size = 50, char_dropout: Dropout = 0.0,
                 num_chars: int = 0, pretrained: Tensor | None = None, padding_idx: int = 0, unk_idx: int = 1,
                 input_dim: int | None = None, compile_step: bool = False,
                 init: Literal[INITS] = "default", init_tmax: Size = 100, init_gain: Annotated[float, Positive] = 1.0,
                 nonlinearity: Literal["tanh", "relu"] = "tanh"):
        super().__init__()
        custom = "." in cell  # an import path: the user's cell
        if not custom and cell not in CELLS:  # ranges and choices: seqexp.run.schema checks them against this
            raise ConfigError(f"model.cell: unknown cell {cell!r} (expected one of {', '.join(CELLS)}, or an import "
                              "path to a cell of your own)")
        if cell not in FUSED and impl != "scratch":
            raise ConfigError(f"model.cell={cell} needs model.impl=scratch (torch.nn has no such cell)")
        if compile_step and (impl != "scratch" or custom or CELLS[cell].scan):
            raise ConfigError("model.compile_step=true compiles the step of seqexp's own cells: it needs "
                              "model.impl=scratch and a built-in model.cell that steps (mingru and minlstm train by a "
                              f"parallel scan): {', '.join(c for c in CELLS if not CELLS[c].scan)}")
        if nonlinearity != "tanh" and cell != "rnn":
            raise ConfigError(f"model.nonlinearity={nonlinearity} is the Elman rnn's choice: model.cell={cell} has "
                              "its own")
        if pretrained is not None and pretrained.shape[1] != embedding_dim:
            raise ConfigError(f"model.embedding_dim={embedding_dim} but the vectors have {pretrained.shape[1]}")
        self.embedding = None
        if input_dim is None:
            self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=padding_idx)
            if pretrained is not None:
                self.embedding.weight.data.copy_(pretrained)
            self.embedding.weight.requires_grad_(not (freeze_embeddings and pretrained is not None))
        self.embedding_dropout = nn.Dropout(embedding_dropout)
        self.word_dropout, self.unk_idx, self.padding_idx = word_dropout, unk_idx, padding_idx
        self.singleton_dropout = singleton_dropout
        self.rare_from = vocab_size - singletons  # the vocabulary is most-frequent-first: singletons end it
        self.chars = None
        if char != "none":
            if num_chars < 1:
                raise ConfigError(f"model.char={char} needs a character vocabulary: this task's data has none")
            self.chars = CharEncoder(char, num_chars, char_dim, char_out_dim, dropout=char_dropout,
                                     padding_idx=padding_idx)
        input_size = (input_dim or embedding_dim) + (char_out_dim if self.chars is not None else 0)
        self.impl, self.num_layers = impl, num_layers
        self.directions = 2 if bidirectional else 1
        self.output_size = hidden_size * self.directions
        dropout = dropout if num_layers > 1 else 0.0  # torch.nn applies it between layers only
        if impl == "cudnn":
            elman = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
            self.rnn = FUSED_CLASSES[cell](input_size, hidden_size, num_layers, batch_first=True, dropout=dropout,
                                           bidirectional=bidirectional, **elman)
        elif custom:
            self.rnn = CellRNN(load_cell(cell), input_size, hidden_size, num_layers, bidirectional, dropout)
        else:
            self.rnn = ScratchRNN(cell, input_size, hidden_size, num_layers, bidirectional, dropout, compile_step,
                                  nonlinearity, init_tmax)
        initialise(self.rnn, cell, init, init_tmax, init_gain)

    def forward(self, tokens: Tensor, lengths: Lengths | Tensor | None, state=None, chars: Tensor | None = None,
                char_lengths: Lengths | Tensor | None = None) -> tuple[Tensor, Tensor, Tensor | tuple]:
        """``lengths``: real tokens per sequence, as a batch brings them (``seqexp.data.batch.lengths_of``: host
        and device copies and the host-sorted order, so nothing crosses between them here), or a plain ``[B]``
        tensor (export, direct calls: packed as torch packs it, ``Lengths.of``); None when every sequence fills
        the window (the LM's). ``char_lengths``: characters per word, likewise, for ``char=lstm``."""
        x = tokens if tokens.is_floating_point() else self.embedding(self._drop_words(tokens))  # [B, T, E]
        if self.chars is not None:
            x = torch.cat([x, self.chars(chars, char_lengths)], dim=-1)  # [B, T, E + C]
        x = self.embedding_dropout(x)
        if isinstance(lengths, Tensor):
            lengths = Lengths.of(lengths, x.device)
        if self.impl == "scratch":
            on_device = lengths.on_device if lengths is not None else torch.full(x.shape[:1], x.size(1),
                                                                                 device=x.device)  # [B]
            out, state = self.rnn(x, on_device, state)  # [B, T, D*H]
        elif lengths is None or lengths.fill(x.size(1)):
            out, state = self.rnn(x, state)  # [B, T, D*H]: nothing to pack
        else:
            out, state = self.rnn(lengths.pack(x), lengths.sort(state))
            out, state = lengths.unpack(out, x.size(1)), lengths.unsort(state)  # [B, T, D*H]
        h = state[0] if isinstance(state, tuple) else state  # [L*D, B, H]
        last = h.view(self.num_layers, self.directions, *h.shape[1:])[-1]  # [D, B, H]
        final = last.transpose(0, 1).reshape(h.size(1), self.output_size)  # [B, D*H]
        return out, final, state

    @contextmanager
    def probed(self) -> Iterator[Probe]:
        """Within: forward passes record every layer's per-step states and gates (``recurrence.Probe``), for the
        gradient-flow callback. torch.nn's fused kernels expose no step, so with ``impl=cudnn`` a scratch copy of
        the RNN with the same weights (the same numbers) runs in its place meanwhile."""
        rnn, impl = self.rnn, self.impl
        if impl == "cudnn":
            self.rnn = ScratchRNN(type(rnn).__name__.lower(), rnn.input_size, rnn.hidden_size, rnn.num_layers,
                                  rnn.bidirectional, rnn.dropout,
                                  nonlinearity=getattr(rnn, "nonlinearity", "tanh")).to(rnn.weight_ih_l0)
            self.rnn.load_state_dict(rnn.state_dict())
            self.rnn.train(rnn.training)
            self.impl = "scratch"
        self.rnn.probe = probe = Probe()
        try:
            yield probe
        finally:
            self.rnn.probe = None
            self.rnn, self.impl = rnn, impl

    def _drop_words(self, tokens: Tensor) -> Tensor:
        """Training only: each real token becomes ``<unk>`` with probability ``word_dropout``, and each word
        seen once in training with probability ``singleton_dropout`` (Lample et al. 2016), so the model learns
        what to do with unseen words (read them from their characters, say), as test data is full of them.
        Singletons are the better stand-in: like unseen test words, they are often names."""
        if not self.training or self.word_dropout == self.singleton_dropout == 0:
            return tokens
        both = 1 - (1 - self.word_dropout) * (1 - self.singleton_dropout)  # a singleton: either drop applies
        p = torch.where(tokens >= self.rare_from, both, self.word_dropout)  # [B, T]
        drop = torch.rand(tokens.shape, device=tokens.device) < p  # [B, T]
        return tokens.masked_fill(drop & (tokens != self.padding_idx), self.unk_idx)

