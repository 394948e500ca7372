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


def min_gates(cell: str, gi: Tensor) -> tuple[Tensor, Tensor]:
    """minGRU/minLSTM's write gate from the input alone, and the candidate's pre-activation: each ``[..., H]``; the
    keep gate is ``1 - write``. minGRU: write = z. minLSTM: write = i / (f + i), keep = f / (f + i), as the paper's
    time-independent minLSTM has them. ``gi``'s gate blocks are read as views, in whatever layout it has."""
    blocks = gi.unflatten(-1, (2 if cell == "mingru" else 3, -1)).unbind(-2)  # 2|3 x [..., H]
    if cell == "mingru":
        k_z, k_h = blocks
        return torch.sigmoid(k_z), k_h
    k_f, k_i, k_h = blocks
    return torch.sigmoid(F.softplus(-k_f) - F.softplus(-k_i)), k_h  # sigmoid(log(i / f)) = i / (f + i)


def min_coefficients(cell: str, gi: Tensor, real: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """The coefficients ``(a, b) = (keep, write * g(x))`` of ``h = a h + b`` and the write gate, each ``[..., H]``,
    the write gate zeroed where ``real`` is zero (padding): there ``a = 1`` and ``b = 0``, so a state never changes."""
    write, k_h = min_gates(cell, gi)  # [..., H] each
    if real is not None:
        write = write * real  # [..., H]
    return 1 - write, write * min_candidate(k_h), write  # [..., H] each


def min_step(cell: str, gi: Tensor, h: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """One step of minGRU or minLSTM: ``h = keep * h + write * g(x)``, the scan's coefficients applied once; gates
    (keep, write)."""
    keep, b, write = min_coefficients(cell, gi)  # [..., B, H] each
    return torch.addcmul(b, keep, h), (keep, write)  # [..., B, H]


def _scan(a: Tensor, b: Tensor, reverse: bool = False, out: Tensor | None = None) -> Tensor:
    """Every ``h_t = a_t h_{t-1} + b_t`` (``h_{-1} = 0``) over the leading (time) axis of ``a, b [T, ...]``; with
    ``reverse``, every ``h_t = a_t h_{t+1} + b_t`` (``h_T = 0``). The work-efficient scan (Blelloch 1990): combine
    neighbouring steps in pairs, ``(a2 a1, a2 b1 + b2)`` for a pair read in the order 1, 2, scan the half as long
    sequence of pairs, which gives every pair's second step, then each first step from the second step of the pair
    before it. O(T) work in 2 log2(T) levels, all written into one ``out`` (each level into a view of the level
    above's, so no result is copied up; no autograd: ``LinearScan``), in linear space: ``a`` in [0, 1] (both cells'
    keep gates) only shrinks the products, which may underflow to 0, correctly, and every ``b`` term is added as the
    loop adds it."""
    steps = a.size(0)
    out = torch.empty_like(b) if out is None else out  # [T, ...], in b's memory layout
    if steps == 1:
        return out.copy_(b)
    odd = steps % 2  # an odd length leaves out of the pairs the step read last, done after them from its neighbour
    paired = slice(odd, None) if reverse else slice(0, steps - odd)
    (a0, a1), (b0, b1) = (x[paired].unflatten(0, (-1, 2)).unbind(1) for x in (a, b))  # [P, ...] each
    (first, a_1, b_1), (second, a_2, b_2) = ((1, a1, b1), (0, a0, b0)) if reverse else ((0, a0, b0), (1, a1, b1))
    pairs = out[paired].unflatten(0, (-1, 2))  # [P, 2, ...], a view of out
    _scan(a_2 * a_1, torch.addcmul(b_2, a_2, b_1), reverse, out=pairs[:, second])  # every pair's second step
    edge, now, before = (-1, slice(None, -1), slice(1, None)) if reverse else (0, slice(1, None), slice(None, -1))
    pairs[edge, first] = b_1[edge]  # the first step read: h = b
    torch.addcmul(b_1[now], a_1[now], pairs[before, second], out=pairs[now, first])  # the other first steps
    if odd:
        last, neighbour = (0, 1) if reverse else (-1, -2)
        torch.addcmul(b[last], a[last], out[neighbour], out=out[last])
    return out  # [T, ...]


class LinearScan(torch.autograd.Function):
    """``_scan`` with its backward written out: the gradient of a linear recurrence is the same recurrence run
    backwards, ``g_t = dL/dh_t + a_{t+1} g_{t+1}``, with ``dL/db_t = g_t`` and ``dL/da_t = g_t h_{t-1}``. One more
    scan instead of autograd recording (and replaying) every level's products and copies. Every tensor it makes
    keeps its inputs' memory layout, so a time axis that is not outermost in memory costs no copy."""

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor) -> Tensor:
        h = _scan(a, b)  # [T, ...]
        ctx.save_for_backward(a, h)
        return h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_h: Tensor) -> tuple[Tensor, Tensor]:
        a, h = ctx.saved_tensors
        a_next = torch.empty_like(a)  # a_{t+1}; nothing follows the last step
        a_next[:-1] = a[1:]
        a_next[-1] = 1
        g = _scan(a_next, grad_h, reverse=True)  # [T, ...]
        grad_a = torch.empty_like(g)  # dL/da_t = g_t h_{t-1}, h_{-1} = 0
        grad_a[0] = 0
        torch.mul(g[1:], h[:-1], out=grad_a[1:])
        return grad_a, g


def linear_scan(a: Tensor, b: Tensor, dim: int = 0) -> Tensor:
    """Every ``h_t = a_t h_{t-1} + b_t`` (``h_{-1} = 0``) along ``dim`` (time) of ``a, b``: a parallel scan over
    time, forward and backward (``LinearScan``)."""
    return LinearScan.apply(a.movedim(dim, 0), b.movedim(dim, 0)).movedim(0, dim)


def min_scan(cell: str, gi: Tensor, h0: Tensor, real: Tensor) -> Tensor:
    """Every step of minGRU or minLSTM at once, ``h_t = keep_t h_{t-1} + write_t g(x_t)``, by ``linear_scan``.
    ``gi [B, T, D, G]``, ``h0 [D, B, H]``, ``real [B, T, 1, 1]`` one at real steps and zero at padding, where the
    write gate is zeroed: ``keep = 1`` and ``b = 0`` there, so a state never changes. Returns ``[B, T, D, H]``."""
    a, b, _ = min_coefficients(cell, gi, real)  # [B, T, D, H] each
    b[:, 0].addcmul_(a[:, 0], h0.transpose(0, 1))  # h0 folded into the first step, in place: b is our own
    return linear_scan(a, b, dim=1)  # [B, T, D, H]
