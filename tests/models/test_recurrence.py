"""The driver's frame: which steps are real, and each sequence read backwards with its padding left in place."""

import pytest
import torch

from seqexp.models.cells import ScratchRNN
from seqexp.models.recurrence import Frame


def test_frame_reverses_each_sequence_and_is_its_own_inverse() -> None:
    frame = Frame.of(torch.tensor([3, 1, 0]), steps=4)
    assert frame.valid.T.tolist() == [[True, True, True, False], [True, False, False, False], [False] * 4]
    assert frame.ends.tolist() == [2, 0, 0]
    x = torch.arange(12.0).view(3, 4, 1)  # [B, T, 1]
    reversed_ = frame.reverse(x)
    assert reversed_[..., 0].tolist() == [[2, 1, 0, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert torch.equal(frame.reverse(reversed_), x)


def test_frame_reverse_has_indexings_gradient_and_its_gradients_gradient() -> None:
    """Its backward is the same reversal, not indexing's scatter-add: the same numbers, in float64, to any order."""
    frame = Frame.of(torch.tensor([3, 1, 0, 4]), steps=4)
    x = torch.randn(4, 4, 2, dtype=torch.float64, requires_grad=True)  # [B, T, F]
    weights = torch.randn(4, 4, 2, dtype=torch.float64)
    for reverse in (frame.reverse, lambda x: x[frame.batch_index, frame.reverse_index]):
        (grad,) = torch.autograd.grad((reverse(x) * weights).sum(), x)
        torch.testing.assert_close(grad, frame.reverse(weights), rtol=0, atol=0)
    assert torch.autograd.gradcheck(frame.reverse, (x,)) and torch.autograd.gradgradcheck(frame.reverse, (x,))


@pytest.mark.parametrize("cell", ["lstm", "gru", "mingru"])
def test_lengths_on_the_host_drive_a_recurrence_on_another_device(cell):
    """torch.nn's habit, lengths on the CPU beside a device input, works; the meta device stands in for a GPU (any
    mix of devices in one op raises there as on CUDA)."""
    rnn = ScratchRNN(cell, 3, 4, num_layers=2, bidirectional=True).to("meta")
    out, state = rnn(torch.empty(2, 5, 3, device="meta"), torch.tensor([5, 3]))
    h = state[0] if isinstance(state, tuple) else state
    assert out.device.type == "meta" and out.shape == (2, 5, 8) and h.shape == (4, 2, 4)
