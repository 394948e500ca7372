"""Gradient flow through time: dL/dh_t per step against a hand computation, the cuDNN stand-in, gate statistics."""

import math

import pytest
import torch
from torch import Tensor, nn

from seqexp.models.custom import CellRNN
from seqexp.models.encoder import Encoder
from seqexp.models.recurrence import Probe
from seqexp.run.gradflow import gate_stats, step_norms

H = 3


class LinearCell(nn.Module):
    """h_t = W h_{t-1} + U x_t: dL/dh_t = (W^T)^(T-t) dL/dh_T, exactly."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.W = nn.Parameter(torch.randn(hidden_size, hidden_size, dtype=torch.float64) * 0.6)
        self.U = nn.Parameter(torch.randn(hidden_size, input_size, dtype=torch.float64))

    def initial_state(self, batch_size: int, device=None, dtype=None) -> Tensor:
        return torch.zeros(batch_size, self.W.size(0), device=device, dtype=dtype)

    def forward(self, x: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        h = h @ self.W.T + x @ self.U.T  # [B, H]
        return h, h


def test_step_gradients_equal_the_hand_computation():
    torch.manual_seed(0)
    rnn = CellRNN(LinearCell, 2, H)
    lengths = torch.tensor([6, 3])  # the second sequence is padded: its steps 3..5 must not count
    x = torch.randn(2, 6, 2, dtype=torch.float64)
    v = torch.randn(H, dtype=torch.float64)
    rnn.probe = probe = Probe()
    _, (h_n, _) = rnn(x, lengths)
    loss = (h_n[0] @ v).sum()  # each sequence's loss on its last real step
    flat = [s for layer in probe.states for step in layer for s in step]
    grads = torch.autograd.grad(loss, flat, allow_unused=True)
    w_t = rnn.cells[0].W.detach().T
    for t, g in enumerate(grads):  # per step, [B, H]
        for b, n in enumerate(lengths.tolist()):
            expected = torch.linalg.matrix_power(w_t, n - 1 - t) @ v if t < n else torch.zeros(H, dtype=v.dtype)
            torch.testing.assert_close(g[b], expected, atol=1e-6, rtol=0)
    norms = step_norms(probe, list(grads))[0][0]  # layer 0, forward: [T] by distance from the last step
    expected = [torch.linalg.matrix_power(w_t, d) @ v for d in range(6)]
    torch.testing.assert_close(norms, torch.stack([e.norm() for e in expected]), atol=1e-6, rtol=0)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_cudnn_is_measured_by_a_scratch_copy_with_the_same_weights(cell):
    torch.manual_seed(0)
    cudnn = Encoder(0, cell=cell, hidden_size=4, num_layers=2, bidirectional=True, input_dim=2)
    scratch = Encoder(0, cell=cell, hidden_size=4, num_layers=2, bidirectional=True, input_dim=2, impl="scratch")
    scratch.load_state_dict(cudnn.state_dict())
    x, lengths = torch.randn(3, 5, 2), torch.tensor([5, 2, 4])
    measured = []
    for enc in (cudnn, scratch):
        rnn = enc.rnn
        with enc.probed() as probe:
            _, final, _ = enc(x, lengths)
            flat = [s for layer in probe.states for step in layer for s in step]
            measured.append(step_norms(probe, list(torch.autograd.grad(final.square().sum(), flat))))
        assert enc.rnn is rnn and getattr(rnn, "probe", None) is None  # restored, probe off
        assert enc.impl == ("scratch" if enc is scratch else "cudnn")
    for a, b in zip(*measured, strict=True):
        assert a.shape == (2, 5)  # directions, distances
        torch.testing.assert_close(a, b)


def test_gate_statistics():
    """Zero weights, biases i 0, f 5, o -5: every step's gates are sigmoid(0), sigmoid(5), sigmoid(-5), so two
    thirds of the gate values are saturated and the forget gate's mean is sigmoid(5)."""
    enc = Encoder(0, cell="lstm", hidden_size=4, input_dim=2)
    with torch.no_grad():
        for p in enc.rnn.parameters():
            p.zero_()
        enc.rnn.bias_ih_l0.copy_(torch.tensor([0.0] * 4 + [5.0] * 4 + [0.0] * 4 + [-5.0] * 4))  # i, f, g, o
    with enc.probed() as probe:
        enc(torch.randn(2, 5, 2), torch.tensor([5, 3]))
    [(saturated, forget)] = gate_stats(probe)
    assert saturated == pytest.approx(2 / 3) and forget == pytest.approx(1 / (1 + math.exp(-5)), rel=1e-6)
    with Encoder(0, cell="rnn", hidden_size=4, input_dim=2).probed() as probe:
        pass
    assert gate_stats(probe) == []
