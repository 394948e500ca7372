"""minGRU and minLSTM (Feng et al. 2024, "Were RNNs all we needed?"): gates that read the input only, so
``h_t = a_t h_{t-1} + b_t`` has its coefficients before the recurrence runs, and training is a parallel scan over
time rather than a loop; one step at a time (decoding, the gradient-flow probe) is the same cell as a step.
``seqexp.models.cells.ScratchRNN`` runs both forms."""

import torch
import torch.nn.functional as F
from torch import Tensor


def min_candidate(x: Tensor) -> Tensor:
    """minGRU/minLSTM's candidate state ``g(x)``: x + 0.5 for x >= 0, sigmoid(x) below; positive, so that the scan
    can run in log space (Feng et al. 2024, appendix)."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def log_min_candidate(x: Tensor) -> Tensor:
    """``log g(x)`` without forming ``g(x)`` where it underflows."""
    return torch.where(x >= 0, torch.log(F.relu(x) + 0.5), -F.softplus(-x))


def min_gates(cell: str, gi: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """minGRU/minLSTM's gates from the input alone: (log keep, log write, candidate's pre-activation), each
    ``[..., H]``. minGRU: keep = 1 - z, write = z. minLSTM: keep = f / (f + i), write = i / (f + i), which sum to
    one as the paper's time-independent minLSTM has them."""
    if cell == "mingru":
        k_z, k_h = gi.chunk(2, dim=-1)  # 2 x [..., H]
        return -F.softplus(k_z), -F.softplus(-k_z), k_h
    k_f, k_i, k_h = gi.chunk(3, dim=-1)  # 3 x [..., H]
    diff = F.softplus(-k_f) - F.softplus(-k_i)  # log(i / f)
    return -F.softplus(diff), -F.softplus(-diff), k_h


def min_step(cell: str, gi: Tensor, h: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """One step of minGRU or minLSTM: ``h = keep * h + write * g(x)``; gates (keep, write)."""
    log_keep, log_write, k_h = min_gates(cell, gi)
    keep, write = log_keep.exp(), log_write.exp()  # [..., B, H] each
    return keep * h + write * min_candidate(k_h), (keep, write)  # [..., B, H]


def min_scan(cell: str, gi: Tensor, h0: Tensor, mask: Tensor) -> Tensor:
    """Every step of minGRU or minLSTM at once: ``h_t = a_t h_{t-1} + b_t`` as ``h_t = A_t h_0 + B_t`` by a parallel
    scan (Hillis & Steele 1986: log2(T) passes, each combining every step with the one ``shift`` before it) over
    (log A, log B), so that products of many gates neither underflow nor lose digits (Feng et al. 2024 scan in log
    space too; measured against the step over 200 padded float32 steps, their cumulative-sum form was off by
    1.6e-4, this one passes the 1e-5 of tests/models/test_cells.py).
    ``gi [T, D, B, G]``, ``h0 [D, B, H]`` (any sign: it is not taken to the log), ``mask [T, 1, B, 1]`` true at
    real steps; at padding ``a = 1`` and ``b = 0``, so a state never changes there. Returns ``[T, D, B, H]``."""
    log_keep, log_write, k_h = min_gates(cell, gi)  # [T, D, B, H] each
    log_a = log_keep.masked_fill(~mask, 0.0)  # [T, D, B, H]
    log_b = (log_write + log_min_candidate(k_h)).masked_fill(~mask, torch.finfo(gi.dtype).min)  # exp() == 0
    shift = 1
    while shift < log_a.size(0):  # now step t holds steps t - shift + 1 .. t combined
        log_b = torch.cat((log_b[:shift], torch.logaddexp(log_a[shift:] + log_b[:-shift], log_b[shift:])))
        log_a = torch.cat((log_a[:shift], log_a[shift:] + log_a[:-shift]))
        shift *= 2
    return log_a.exp() * h0 + log_b.exp()  # [T, D, B, H]
