"""torch.nn's RNNs under CPU bf16 autocast: they run on every CPU, and give the numbers torch.nn gives."""

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqexp.models import fused

LENGTHS = torch.tensor([5, 3, 2, 1])


def _run(rnn: nn.RNNBase, x: torch.Tensor, packed: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Outputs ``[B, T, D*H]`` and the input's gradient, after a bf16-autocast forward and a backward."""
    x = x.clone().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inputs = pack_padded_sequence(x, LENGTHS, batch_first=True) if packed else x
        out, _ = rnn(inputs)
        out = pad_packed_sequence(out, batch_first=True)[0] if packed else out
    out.float().square().sum().backward()
    return out.float().detach(), x.grad


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_bf16_autocast_runs_and_matches_fp32(cell, packed, monkeypatch):
    """Forced onto torch's own kernel (as on a CPU whose oneDNN has no bf16 RNN, such as this AVX2 one), the
    bf16 forward and backward run and match fp32 torch.nn within bf16's precision, for 2 bidirectional layers."""
    monkeypatch.setattr(fused, "_ONEDNN_BF16", False)
    torch.manual_seed(0)
    ours = fused.FUSED_CLASSES[cell](8, 16, num_layers=2, batch_first=True, bidirectional=True)
    ref = getattr(nn, cell.upper())(8, 16, num_layers=2, batch_first=True, bidirectional=True)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(4, 5, 8)
    out, grad = _run(ours, x, packed)
    x = x.clone().requires_grad_()
    ref_in = pack_padded_sequence(x, LENGTHS, batch_first=True) if packed else x
    ref_out, _ = ref(ref_in)
    ref_out = pad_packed_sequence(ref_out, batch_first=True)[0] if packed else ref_out
    ref_out.square().sum().backward()
    assert out.shape == ref_out.shape == (4, 5, 32)
    torch.testing.assert_close(out, ref_out.detach(), atol=0.03, rtol=0.03)
    torch.testing.assert_close(grad, x.grad, atol=0.05, rtol=0.05)
    assert torch.backends.mkldnn.enabled  # switched off for the call only


def test_fused_classes_are_torch_nn_ones():
    """Same class names (checkpoint and export code reads them), parameters and state_dict keys as torch.nn."""
    for cell, cls in fused.FUSED_CLASSES.items():
        ours, ref = cls(3, 4), getattr(nn, cell.upper())(3, 4)
        assert isinstance(ours, type(ref)) and type(ours).__name__ == type(ref).__name__
        assert ours.state_dict().keys() == ref.state_dict().keys()
