"""The one recurrence driver and what it needs to know of a cell.

``CELLS`` lists the built-in cells; ``Recurrence`` is the driver both recurrences share (``ScratchRNN`` for the
built-in cells, ``CellRNN`` for your own): layers stacked with dropout between them, each direction reading its
sequences in its own order, torch.nn's padded-sequence semantics, the probe fed. A subclass says only how one layer
runs its directions and which state it starts from and ends with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class Cell:
    """What the driver and the initialisations (seqexp.models.init) need to know of a cell.

    ``blocks``: gate blocks of ``hidden_size`` rows stacked in ``weight_ih`` (torch.nn's order). ``recurrent``: the
    shape of ``weight_hh``: a ``[blocks*H, H]`` matrix, an ``[H]`` vector (IndRNN: each unit sees only itself) or
    none (minGRU/minLSTM: the gates read the input only, which is what lets them train by a parallel scan).
    ``keep``/``write``: the block whose bias, raised, makes the state last longer / be overwritten sooner (chrono
    sets them to +-log U[1, T_max - 1]); None where the cell has no such gate. ``gates``: the names of the gates a
    step returns (``Gates``), in its order, as the cell's paper names them."""

    blocks: int
    recurrent: str = "matrix"  # matrix | vector | none
    keep: int | None = None
    write: int | None = None
    cell_state: bool = False
    gates: tuple[str, ...] = ()

    @property
    def scan(self) -> bool:
        """Training runs as a parallel scan over time: no gate reads the previous state."""
        return self.recurrent == "none"


CELLS: dict[str, Cell] = {
    "rnn": Cell(1),
    "gru": Cell(3, keep=1, gates=("update", "reset")),  # r, z, n; h = (1 - z) n + z h: z keeps
    "lstm": Cell(4, keep=1, write=0, cell_state=True, gates=("forget", "input", "output")),  # i, f, g, o
    "lnlstm": Cell(4, keep=1, write=0, cell_state=True, gates=("forget", "input", "output")),
    "indrnn": Cell(1, recurrent="vector"),  # Li et al. 2018
    "mingru": Cell(2, recurrent="none", write=0, gates=("keep", "write")),  # z, h~ (Feng et al. 2024)
    "minlstm": Cell(3, recurrent="none", keep=0, write=1, gates=("forget", "input")),  # f, i, h~ (Feng et al.)
}
"""The one list of cells: every task, both ``impl`` where torch.nn has the cell, the probe and the bench read it."""
FUSED = tuple(cell for cell in CELLS if hasattr(nn, cell.upper()))
"""The cells torch.nn implements (cuDNN on a GPU): rnn, gru and lstm."""

State = Tensor | tuple[Tensor, Tensor]
Gates = tuple[Tensor, ...]
"""A step's sigmoid gates, each ``[..., B, H]``, the memory gate first (LSTM: forget, input, output; GRU: update,
reset; Elman: none): what ``ScratchRNN.probe`` records for the gradient-flow callback."""
Step = Callable[[Tensor, Tensor, Tensor | None], tuple[Tensor, Tensor | None, Gates]]
"""A cell's step with its layer's parameters bound: (gi_t, h, c) -> (h, c or None, gates)."""


@dataclass
class Probe:
    """What a driver records while it has a ``probe`` (seqexp.run.gradflow reads it). Per layer and step: the
    hidden states as the recurrence used them, in the autograd graph (their gradients are the total dL/dh_t), and
    the sigmoid gates. Steps are in each direction's reading order: step t of a sequence is real while t < its
    length, and its distance from the sequence's last step is length - 1 - t in both directions."""

    lengths: Tensor | None = None  # [B]
    states: list[list[list[Tensor]]] = field(default_factory=list)  # [layer][t]: one [D, B, H], or D x [B, H]
    gates: list[list[Gates]] = field(default_factory=list)  # [layer][t]: gates, each [D, B, H]


@dataclass(frozen=True)
class Frame:
    """Where each sequence of a batch is real, and how to read it backwards: worked out once per batch (on the
    lengths' device: nothing here copies to or waits for the host) and shared by every layer."""

    lengths: Tensor  # [B]
    valid: Tensor  # [T, B]: step t of sequence b is real
    reverse_index: Tensor  # [B, T]: each sequence's real steps in reverse order, padding in place
    batch_index: Tensor  # [B, 1]: pairs with reverse_index to gather

    @classmethod
    def of(cls, lengths: Tensor, steps: int) -> Frame:
        lengths = lengths.long()  # [B], on the input's device (the encoder's are already: no copy)
        time = torch.arange(steps, device=lengths.device)  # [T]
        valid = time[:, None] < lengths[None, :]  # [T, B]
        reverse_index = torch.where(valid.T, lengths[:, None] - 1 - time[None, :], time[None, :])  # [B, T]
        return cls(lengths, valid, reverse_index, torch.arange(len(lengths), device=lengths.device)[:, None])

    @property
    def ends(self) -> Tensor:
        """Each sequence's last real step: ``[B]`` (0 for an empty one)."""
        return (self.lengths - 1).clamp(min=0)

    def reverse(self, x: Tensor) -> Tensor:
        """``x [B, T, ...]`` with each sequence's real steps reversed and its padding left in place; its own
        inverse, so the same call turns a reverse direction's outputs back into time order."""
        return _Reverse.apply(x, self.batch_index, self.reverse_index)  # [B, T, ...]


class _Reverse(torch.autograd.Function):
    """``x[batch_index, reverse_index]`` whose gradient is the same gather: reversing each sequence's real steps is
    a permutation that is its own inverse. Autograd's gradient of indexing is a scatter-add (``index_put`` with
    accumulate), the slowest op of a bidirectional layer's backward on the CPU."""

    @staticmethod
    def forward(ctx, x: Tensor, batch_index: Tensor, reverse_index: Tensor) -> Tensor:
        ctx.save_for_backward(batch_index, reverse_index)
        return x[batch_index, reverse_index]  # [B, T, ...]

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None]:
        batch_index, reverse_index = ctx.saved_tensors
        return _Reverse.apply(grad, batch_index, reverse_index), None, None  # [B, T, ...]


class Recurrence(nn.Module):
    """The driver: ``forward(x [B, T, I], lengths [B], state) -> (outputs [B, T, D*H], final state)``, outputs zero
    at padding and final states taken at each sequence's last real step (step 0 for the reverse direction).

    Subclasses implement ``initial`` (each layer's starting state from the caller's ``state``, or zeros),
    ``layer`` (one layer, all its directions, over the frame) and ``final`` (the layers' final states, in the shape
    the caller passes back as ``state``)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, bidirectional: bool, dropout: float):
        super().__init__()
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout must be in [0, 1], got {dropout}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bidirectional, self.num_directions = bidirectional, 2 if bidirectional else 1
        self.dropout = dropout
        self.batch_first = True
        self.probe: Probe | None = None  # set: forward records states and gates into it

    def forward(self, x: Tensor, lengths: Tensor, state: object = None) -> tuple[Tensor, object]:
        frame = Frame.of(lengths.to(x.device), x.size(1))  # torch.nn's habit, CPU lengths, works too
        if self.probe is not None:
            self.probe.lengths = frame.lengths
        finals = []
        layer_in = x  # [B, T, I]
        for layer, start in enumerate(self.initial(x, state)):
            out, final = self.layer(layer, layer_in, start, frame)  # [B, T, D*H]
            finals.append(final)
            last = layer == self.num_layers - 1
            layer_in = out if last else F.dropout(out, self.dropout, self.training)  # [B, T, D*H]
        return layer_in, self.final(finals)

    def initial(self, x: Tensor, state: object) -> list:
        raise NotImplementedError

    def layer(self, layer: int, x: Tensor, start: object, frame: Frame) -> tuple[Tensor, object]:
        raise NotImplementedError

    def final(self, finals: list) -> object:
        raise NotImplementedError
