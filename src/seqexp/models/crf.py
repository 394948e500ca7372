"""Linear-chain CRF over per-token tag scores (Lample et al. 2016; NCRF++), batched over sequences."""

import torch
from torch import Tensor, nn

FORBIDDEN = -1e4
"""Score of a disallowed transition: low enough that no allowed path loses to it, finite so no NaN appears."""


class CRF(nn.Module):
    """``forward(emissions [B, T, K], tags [B, T], mask [B, T]) -> NLL`` summed over the batch; ``decode`` = Viterbi.

    ``transitions[i, j]`` scores tag ``i`` followed by tag ``j``; ``start``/``end`` score the first/last tag.
    ``allowed`` (bool masks shaped like those three) pins disallowed entries at ``FORBIDDEN`` in every score,
    so no gradient step can make e.g. ``O -> I-PER`` possible again. ``mask`` must be a prefix per sequence
    (True for the first ``length`` positions, position 0 always True).
    """

    def __init__(self, num_tags: int, allowed: tuple[Tensor, Tensor, Tensor] | None = None):
        super().__init__()
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))  # [K, K]
        self.start = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))  # [K]
        self.end = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))  # [K]
        if allowed is None:
            allowed = (torch.ones(num_tags, num_tags), torch.ones(num_tags), torch.ones(num_tags))
        shapes = ((num_tags, num_tags), (num_tags,), (num_tags,))
        for name, mask, shape in zip(("transitions", "start", "end"), allowed, shapes, strict=True):
            if tuple(mask.shape) != shape:
                raise ValueError(f"allowed {name} mask must have shape {shape}, got {tuple(mask.shape)}")
            self.register_buffer(f"allowed_{name}", mask.bool().clone())

    def potentials(self) -> tuple[Tensor, Tensor, Tensor]:
        """The scores in use: learned values, disallowed entries replaced by ``FORBIDDEN`` (no gradient there);
        in fp32 whatever the model's precision, as every sum over paths here is (log-space sums lose the small
        terms first)."""
        trans = _wide(self.transitions).masked_fill(~self.allowed_transitions, FORBIDDEN)  # [K, K]
        start = _wide(self.start).masked_fill(~self.allowed_start, FORBIDDEN)  # [K]
        end = _wide(self.end).masked_fill(~self.allowed_end, FORBIDDEN)  # [K]
        return trans, start, end

    @torch.no_grad()
    def average(self, others: list["CRF"]) -> None:
        """Set the learned potentials to their mean with ``others``' (an ensemble's CRF)."""
        for name in ("transitions", "start", "end"):
            getattr(self, name).copy_(torch.stack([getattr(crf, name) for crf in (self, *others)]).mean(0))

    def forward(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """Negative log-likelihood of ``tags``, summed over the batch (the caller picks the normalisation)."""
        return (self.log_partition(emissions, mask) - self.score(emissions, tags, mask)).sum()  # []

    def score(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """``[B]`` unnormalised score of the given tag paths; padded tags and emissions are ignored."""
        trans, start, end = self.potentials()
        emissions = _wide(emissions).masked_fill(~mask[..., None], 0.0)  # [B, T, K]; no garbage from padding
        tags = tags.masked_fill(~mask, 0)  # [B, T]; padding may hold an ignore index
        emit = emissions.gather(-1, tags[..., None]).squeeze(-1)  # [B, T]
        step = trans[tags[:, :-1], tags[:, 1:]]  # [B, T-1]
        steps = (emit * mask).sum(1) + (step * mask[:, 1:]).sum(1)  # [B]
        last = tags.gather(1, (mask.sum(1, keepdim=True) - 1)).squeeze(1)  # [B]
        return start[tags[:, 0]] + steps + end[last]  # [B]

    def log_partition(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """``[B]`` log of the summed exp-score of every path: the forward algorithm, one batched step per t."""
        trans, start, end = self.potentials()
        emissions = _wide(emissions).masked_fill(~mask[..., None], 0.0)  # [B, T, K]
        alpha = start + emissions[:, 0]  # [B, K]
        for t in range(1, emissions.size(1)):
            nxt = torch.logsumexp(alpha[:, :, None] + trans + emissions[:, t, None, :], dim=1)  # [B, K]
            alpha = torch.where(mask[:, t, None], nxt, alpha)  # [B, K]; finished sequences keep their alpha
        return torch.logsumexp(alpha + end, dim=1)  # [B]

    @torch.no_grad()
    def decode(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """``[B, T]`` best (Viterbi) tag path per sequence; positions past each length are 0."""
        return viterbi(_wide(emissions), mask, *self.potentials())


def viterbi(emissions: Tensor, mask: Tensor, trans: Tensor, start: Tensor, end: Tensor) -> Tensor:
    """``[B, T]`` best tag path per sequence under the potentials, 0 past each length. Plain TorchScript, so an
    exported tagger (``python -m seqexp.export``) decodes with this very function, for any length."""
    emissions = emissions.masked_fill(~mask.unsqueeze(-1), 0.0)  # [B, T, K]
    best = start + emissions[:, 0]  # [B, K]
    backpointers: list[Tensor] = []
    for t in range(1, emissions.size(1)):
        nxt, prev = (best.unsqueeze(2) + trans + emissions[:, t].unsqueeze(1)).max(dim=1)  # [B, K], [B, K]
        best = torch.where(mask[:, t].unsqueeze(1), nxt, best)  # [B, K]
        backpointers.append(prev)
    cur = (best + end).argmax(dim=1)  # [B]; tag at each sequence's last real position
    path = torch.zeros_like(mask, dtype=torch.long)  # [B, T]
    for t in range(emissions.size(1) - 1, -1, -1):
        path[:, t] = torch.where(mask[:, t], cur, 0)  # [B]
        if t > 0:
            prev = backpointers[t - 1].gather(1, cur.unsqueeze(1)).squeeze(1)  # [B]
            cur = torch.where(mask[:, t], prev, cur)  # [B]; past the end, keep the last tag
    return path


def _wide(x: Tensor) -> Tensor:
    """``x`` in fp32 at least: half-precision log-space sums lose their small terms."""
    return x.to(torch.promote_types(x.dtype, torch.float32))
