"""Packing that never waits for the device: sequences are sorted by length on the host (in collate), and the
permutation travels with the batch, so neither packing nor unpacking copies an index between host and device.

torch's ``pack_padded_sequence(..., enforce_sorted=False)`` sorts the host lengths and copies the permutation to
the device on every call, and ``pad_packed_sequence`` copies it back to index the lengths: two blocking copies per
forward on a GPU (torch/nn/utils/rnn.py). Here the input is put in length order on the device with the
permutation the batch brought along, packed as already sorted (host lengths, no copy), and put back in batch
order after the RNN, states included."""

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

State = Tensor | tuple[Tensor, ...] | None


def length_order(lengths: Tensor) -> Tensor:
    """``[N]`` positions, longest first (ties in batch order): what collate sends along with the batch."""
    return torch.argsort(lengths, descending=True, stable=True)


@dataclass(frozen=True)
class Lengths:
    """A batch's sequence lengths everywhere they are read: ``host`` ``[N]`` (what the packer slices by),
    ``on_device`` ``[N]`` (masks, the hand-written cells), and the length order ``order`` with its inverse
    ``unorder`` (``[N]`` each, on the device), sorted on the host by collate. ``host_order`` is the host copy.
    Without an order (``Lengths.of``), torch sorts as it packs: ``enforce_sorted=False``."""

    host: Tensor
    on_device: Tensor
    order: Tensor | None = None
    unorder: Tensor | None = None
    host_order: Tensor | None = None

    @classmethod
    def of(cls, lengths: Tensor, device: torch.device) -> "Lengths":
        """From lengths alone, for inputs that no collate made (export, direct calls): torch sorts them as it packs,
        copying the order to the device and back, and traces and exports as torch does. A training batch brings
        its own order (``seqexp.data.batch.lengths_of``)."""
        return cls(lengths.cpu(), lengths.to(device))

    def fill(self, steps: int) -> bool:
        """Whether every sequence of a collated batch is ``steps`` long (the adding and copy tasks' batches): then
        there is nothing to pack, and the fused RNN runs on the plain tensor, as fast as it goes (on the CPU a packed
        GRU step is about 2x slower than a plain one: ``BENCHMARKS.md``). Read on the host, which never waits for
        the device; inputs with no order (export, direct calls) always pack, so a traced graph has one path."""
        return self.host_order is not None and int(self.host.min()) == steps

    def pack(self, x: Tensor) -> PackedSequence:
        """``x [N, T, F]`` in batch order, packed longest first."""
        if self.order is None:
            return pack_padded_sequence(x, self.host, batch_first=True, enforce_sorted=False)
        return pack_padded_sequence(x.index_select(0, self.order), self.host[self.host_order], batch_first=True)

    def unpack(self, packed: PackedSequence, total_length: int) -> Tensor:
        """``[N, T, F]`` in batch order, zero past each length."""
        out, _ = pad_packed_sequence(packed, batch_first=True, total_length=total_length)  # [N, T, F]
        return out if self.order is None else out.index_select(0, self.unorder)  # torch unsorted its own order

    def sort(self, state: State) -> State:
        """An initial state ``[L*D, N, H]`` (or a tuple of them) in length order, as the packed RNN reads it."""
        return state if self.order is None else _permute(state, self.order)  # torch.nn sorts its own

    def unsort(self, state: State) -> State:
        """A final state of the packed RNN back in batch order."""
        return state if self.order is None else _permute(state, self.unorder)


def _permute(state: State, index: Tensor) -> State:
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.index_select(1, index) for s in state)  # each [L*D, N, H]
    return state.index_select(1, index)  # [L*D, N, H]
