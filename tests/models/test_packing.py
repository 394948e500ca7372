"""Packing from the order collate sorted on the host gives torch's ``enforce_sorted=False`` numbers exactly:
outputs, final states, an initial state carried in, and gradients."""

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqexp.data.batch import collate, lengths_of, to_device
from seqexp.models.packing import Lengths, length_order

LENGTHS = [3, 7, 1, 7, 5]


def _batch() -> dict[str, torch.Tensor]:
    return collate([{"tokens": torch.arange(1, n + 1)} for n in LENGTHS])


def test_collate_sends_the_length_order_along():
    batch = _batch()
    assert batch["order"].tolist() == [1, 3, 4, 0, 2]  # longest first, ties in batch order
    assert batch["order"][batch["unorder"]].tolist() == list(range(len(LENGTHS)))
    assert length_order(torch.tensor(LENGTHS)).tolist() == batch["order"].tolist()


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_host_sorted_packing_is_torchs(cell):
    torch.manual_seed(0)
    rnn = getattr(nn, cell.upper())(4, 6, num_layers=2, batch_first=True, bidirectional=True)
    batch = to_device(_batch(), "cpu")
    x = torch.randn(len(LENGTHS), max(LENGTHS), 4, requires_grad=True)  # [B, T, E]
    h0 = torch.randn(4, len(LENGTHS), 6)  # [L*D, B, H]
    state = (h0, torch.randn_like(h0)) if cell == "lstm" else h0

    out, final = rnn(pack_padded_sequence(x, torch.tensor(LENGTHS), batch_first=True, enforce_sorted=False), state)
    ref = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))[0]  # [B, T, D*H]
    ref_grad, = torch.autograd.grad(ref.square().sum(), x)

    lengths = lengths_of(batch)
    assert isinstance(lengths, Lengths) and lengths.host.tolist() == LENGTHS
    out, ours_final = rnn(lengths.pack(x), lengths.sort(state))
    ours, ours_final = lengths.unpack(out, x.size(1)), lengths.unsort(ours_final)
    grad, = torch.autograd.grad(ours.square().sum(), x)
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-6)
    torch.testing.assert_close(grad, ref_grad, rtol=0, atol=1e-6)
    for a, b in zip(ours_final if cell == "lstm" else [ours_final], final if cell == "lstm" else [final],
                    strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_plain_lengths_pack_as_torch_does(cell):
    """Lengths no collate sorted (export, direct calls) go to torch's own sorting: the same numbers."""
    torch.manual_seed(0)
    rnn = getattr(nn, cell.upper())(4, 6, batch_first=True, bidirectional=True)
    x, h0 = torch.randn(len(LENGTHS), max(LENGTHS), 4), torch.randn(2, len(LENGTHS), 6)
    state = (h0, torch.randn_like(h0)) if cell == "lstm" else h0
    plain, collated = Lengths.of(torch.tensor(LENGTHS), torch.device("cpu")), lengths_of(to_device(_batch(), "cpu"))
    assert plain.order is None
    outs = []
    for lengths in (plain, collated):
        out, final = rnn(lengths.pack(x), lengths.sort(state))
        outs.append((lengths.unpack(out, x.size(1)), lengths.unsort(final)))
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=1e-6)


def test_only_a_collated_batch_that_fills_its_window_skips_packing():
    full = collate([{"tokens": torch.arange(1, 5)} for _ in range(3)])  # every sequence 4 long
    assert lengths_of(full).fill(4) and not lengths_of(full).fill(5)
    assert not lengths_of(_batch()).fill(max(LENGTHS))  # one shorter sequence: pack
    assert not Lengths.of(torch.tensor([4, 4, 4]), torch.device("cpu")).fill(4)  # export's: one traced path
