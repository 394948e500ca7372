"""The built-in cells' steps: one time step of every direction at once on ``[..., B, H]`` states, the input's part of
the gates (``gi``) computed for all steps before the loop. ``ScratchRNN`` binds each to its layer's parameters."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from seqexp.models.recurrence import Gates

NONLINEARITIES: dict[str, Callable[[Tensor], Tensor]] = {"tanh": torch.tanh, "relu": torch.relu}


def rnn_step(gi: Tensor, h: Tensor, w_hh_t: Tensor, act: Callable[[Tensor], Tensor] = torch.tanh) -> Tensor:
    """Elman step (tanh, or relu as in Le et al. 2015's IRNN); ``gi`` already holds ``W_ih x + b_ih + b_hh``."""
    return act(gi + torch.matmul(h, w_hh_t))  # [..., B, H]


def indrnn_step(gi: Tensor, h: Tensor, u: Tensor) -> Tensor:
    """IndRNN step (Li et al. 2018): ``relu(W x + b + u * h)``, each unit fed back only its own state through its own
    weight ``u [D, 1, H]``, so how long a unit remembers is one number it learns. ``gi`` holds ``W x + b``."""
    return torch.relu(gi + u * h)  # [..., B, H]


def gru_step(gi: Tensor, h: Tensor, w_hh_t: Tensor, b_hh: Tensor) -> tuple[Tensor, Gates]:
    """GRU step with torch.nn's (r, z, n) order; ``gi`` holds ``W_ih x + b_ih``.

    ``b_hh`` is added per step (not folded into ``gi``) because ``b_hn`` sits inside
    the reset gate product: ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``.
    """
    gh = torch.matmul(h, w_hh_t) + b_hh  # [..., B, 3H]
    i_r, i_z, i_n = gi.chunk(3, dim=-1)  # 3 x [..., B, H]
    h_r, h_z, h_n = gh.chunk(3, dim=-1)  # 3 x [..., B, H]
    r = torch.sigmoid(i_r + h_r)  # [..., B, H]
    z = torch.sigmoid(i_z + h_z)  # [..., B, H]
    n = torch.tanh(i_n + r * h_n)  # [..., B, H]
    return n + z * (h - n), (z, r)  # [..., B, H] == (1 - z) * n + z * h


def _lstm_update(gates: Tensor, c: Tensor) -> tuple[Tensor, Tensor, Gates]:
    """Shared LSTM gate math (torch.nn i, f, g, o order); returns (output gate, new cell, gates)."""
    i, f, g, o = (torch.tanh(x) if k == 2 else torch.sigmoid(x) for k, x in enumerate(gates.chunk(4, dim=-1)))
    c_new = torch.addcmul(f * c, i, g)  # [..., B, H]
    return o, c_new, (f, i, o)


def lstm_step(gi: Tensor, h: Tensor, c: Tensor, w_hh_t: Tensor) -> tuple[Tensor, Tensor, Gates]:
    """LSTM step (torch.nn i, f, g, o order); ``gi`` holds ``W_ih x + b_ih + b_hh``."""
    o, c_new, gates = _lstm_update(gi + torch.matmul(h, w_hh_t), c)  # [..., B, H] each
    return o * torch.tanh(c_new), c_new, gates  # [..., B, H], [..., B, H]


def no_cell(h: Tensor, gates: Gates) -> tuple[Tensor, None, Gates]:
    """A GRU step's result in the (h, c, gates) shape every step returns: a GRU has no cell state."""
    return h, None, gates


def layer_norm(x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
    """LayerNorm over the last dim with explicitly passed (broadcastable) gain and bias.

    Lets both directions share one call while keeping separate per-direction affine
    parameters stacked as ``[D, 1, F]``.
    """
    return torch.addcmul(bias, F.layer_norm(x, x.shape[-1:], eps=eps), weight)  # same shape as x; one op, not two


def lnlstm_step(
    gi: Tensor,
    h: Tensor,
    c: Tensor,
    w_hh_t: Tensor,
    gain_hh: Tensor,
    ln_c: tuple[Tensor, Tensor],
    eps: float,
) -> tuple[Tensor, Tensor, Gates]:
    """LayerNorm-LSTM step (Ba et al. 2016).

    ``gi`` holds ``LN_ih(W_ih x) + b_ih + b_hh`` and the recurrent LayerNorm's bias, which are the same at every step
    (added once, outside the loop); here LN is applied to the recurrent projection (``gain_hh`` its
    gain) and to the cell state before the output tanh. The carried cell state stays un-normalised.
    """
    gh = F.layer_norm(torch.matmul(h, w_hh_t), w_hh_t.shape[-1:], eps=eps)  # [..., B, 4H]
    o, c_new, gates = _lstm_update(torch.addcmul(gi, gh, gain_hh), c)  # [..., B, H] each
    return o * torch.tanh(layer_norm(c_new, *ln_c, eps)), c_new, gates  # [..., B, H] x 2
