"""minGRU and minLSTM (Feng et al. 2024, "Were RNNs all we needed?"): gates that read the input only, so
``h_t = a_t h_{t-1} + b_t`` has its coefficients before the recurrence runs, and training is a parallel scan over
time rather than a loop; one step at a time (decoding, the gradient-flow probe) is the same cell as a step.
``seqexp.models.cells.ScratchRNN`` runs both forms."""

import torch
import torch.nn.functional as F
from torch import Tensor


def min_candidate(x: Tensor) -> Tensor:
    """minGRU/minLSTM's candidate state ``g(x)``: x + 0.5 for x >= 0, sigmoid(x) below (Feng et al. 2024, appendix).
    Written without ``torch.where``, which on the CPU costs twice this, forward and backward."""
    positive = torch.relu(x)
    return positive + torch.sigmoid(x - positive)  # x + sigmoid(0), or 0 + sigmoid(x)


def min_gates(cell: str, gi: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """minGRU/minLSTM's gates from the input alone: (keep, write, candidate's pre-activation), each ``[..., H]``.
    minGRU: keep = 1 - z, write = z. minLSTM: keep = f / (f + i), write = i / (f + i), which sum to one as the
    paper's time-independent minLSTM has them."""
    blocks = gi.unflatten(-1, (-1, gi.size(-1) // (2 if cell == "mingru" else 3))).movedim(-2, 0)  # [2|3, ..., H]
    if cell == "mingru":
        k_z, k_h = blocks.contiguous().unbind(0)  # 2 x [..., H]; contiguous: element-wise ops on them run faster
        write = torch.sigmoid(k_z)  # [..., H]
    else:
        k_f, k_i, k_h = blocks.contiguous().unbind(0)  # 3 x [..., H]
        write = torch.sigmoid(F.softplus(-k_f) - F.softplus(-k_i))  # sigmoid(log(i / f)) = i / (f + i)
    return 1 - write, write, k_h


def min_step(cell: str, gi: Tensor, h: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """One step of minGRU or minLSTM: ``h = keep * h + write * g(x)``; gates (keep, write)."""
    keep, write, k_h = min_gates(cell, gi)  # [..., B, H] each
    return keep * h + write * min_candidate(k_h), (keep, write)  # [..., B, H]


def _scan(a: Tensor, b: Tensor, reverse: bool = False) -> Tensor:
    """Every ``h_t = a_t h_{t-1} + b_t`` (``h_{-1} = 0``) over the leading (time) axis of ``a, b [T, ...]``; with
    ``reverse``, every ``h_t = a_t h_{t+1} + b_t`` (``h_T = 0``). The work-efficient scan (Blelloch 1990): combine
    neighbouring steps in pairs, ``(a2 a1, a2 b1 + b2)`` for a pair read in the order 1, 2, scan the half as long
    sequence of pairs, which gives every pair's second step, then each first step from the second step of the pair
    before it. O(T) work in 2 log2(T) levels, written into one output per level (no autograd: ``LinearScan``), in
    linear space: ``a`` in [0, 1] (both cells' keep gates) only shrinks the products, which may underflow to 0,
    correctly, and every ``b`` term is added as the loop adds it."""
    steps = a.size(0)
    if steps == 1:
        return b
    if steps % 2:  # one more step at the end, b = 0: nothing before it changes, and h_T = 0 reading backwards
        a, b = torch.cat((a, torch.ones_like(a[:1]))), torch.cat((b, torch.zeros_like(b[:1])))
    (a0, a1), (b0, b1) = a.unflatten(0, (-1, 2)).unbind(1), b.unflatten(0, (-1, 2)).unbind(1)  # [P, ...] each
    (first, a_1, b_1), (second, a_2, b_2) = ((1, a1, b1), (0, a0, b0)) if reverse else ((0, a0, b0), (1, a1, b1))
    out = torch.empty_like(b).unflatten(0, (-1, 2))  # [P, 2, ...]
    out[:, second] = _scan(a_2 * a_1, torch.addcmul(b_2, a_2, b_1), reverse)  # every pair's second step
    edge, now, before = (-1, slice(None, -1), slice(1, None)) if reverse else (0, slice(1, None), slice(None, -1))
    out[edge, first] = b_1[edge]  # the first step read: h = b
    torch.addcmul(b_1[now], a_1[now], out[before, second], out=out[now, first])  # the other first steps
    return out.flatten(0, 1)[:steps]  # [T, ...]


class LinearScan(torch.autograd.Function):
    """``_scan`` with its backward written out: the gradient of a linear recurrence is the same recurrence run
    backwards, ``g_t = dL/dh_t + a_{t+1} g_{t+1}``, with ``dL/db_t = g_t`` and ``dL/da_t = g_t h_{t-1}``. One more
    scan instead of autograd recording (and replaying) every level's products and copies."""

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor) -> Tensor:
        h = _scan(a, b)  # [T, ...]
        ctx.save_for_backward(a, h)
        return h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_h: Tensor) -> tuple[Tensor, Tensor]:
        a, h = ctx.saved_tensors
        a_next = torch.cat((a[1:], torch.ones_like(a[:1])))  # a_{t+1}; nothing follows the last step
        g = _scan(a_next, grad_h.contiguous(), reverse=True)  # [T, ...]
        grad_a = torch.empty_like(g)  # dL/da_t = g_t h_{t-1}, h_{-1} = 0
        grad_a[0] = 0
        torch.mul(g[1:], h[:-1], out=grad_a[1:])
        return grad_a, g


def linear_scan(a: Tensor, b: Tensor) -> Tensor:
    """Every ``h_t = a_t h_{t-1} + b_t`` (``h_{-1} = 0``), ``a, b [T, ...]``: a parallel scan over time, forward
    and backward (``LinearScan``)."""
    return LinearScan.apply(a, b)


def min_scan(cell: str, gi: Tensor, h0: Tensor, mask: Tensor) -> Tensor:
    """Every step of minGRU or minLSTM at once, ``h_t = keep_t h_{t-1} + write_t g(x_t)``, by ``linear_scan``.
    ``gi [T, D, B, G]``, ``h0 [D, B, H]``, ``mask [T, 1, B, 1]`` true at real steps; at padding ``a = 1`` and
    ``b = 0``, so a state never changes there. Returns ``[T, D, B, H]``."""
    keep, write, k_h = min_gates(cell, gi)  # [T, D, B, H] each
    a = keep.masked_fill(~mask, 1.0)  # [T, D, B, H]
    b = (write * min_candidate(k_h)).masked_fill(~mask, 0.0)  # [T, D, B, H]
    b[0].addcmul_(a[0], h0)  # h0 folded into the first step, in place: b is this function's own tensor
    return linear_scan(a, b)  # [T, D, B, H]
