"""The driver's frame: which steps are real, and each sequence read backwards with its padding left in place."""

import torch

from seqexp.models.recurrence import Frame


def test_frame_reverses_each_sequence_and_is_its_own_inverse() -> None:
    frame = Frame.of(torch.tensor([3, 1, 0]), steps=4)
    assert frame.valid.T.tolist() == [[True, True, True, False], [True, False, False, False], [False] * 4]
    assert frame.ends.tolist() == [2, 0, 0]
    x = torch.arange(12.0).view(3, 4, 1)  # [B, T, 1]
    reversed_ = frame.reverse(x)
    assert reversed_[..., 0].tolist() == [[2, 1, 0, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert torch.equal(frame.reverse(reversed_), x)
