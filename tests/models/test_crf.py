"""The CRF contract: partition, NLL and Viterbi equal brute force over all K^T paths; constraints hold; it learns."""

import copy
import itertools

import pytest
import torch

from helpers import DEVICES
from seqexp.models.crf import CRF

LENGTHS = torch.tensor([4, 2, 3])


def prefix_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    return torch.arange(max_len)[None, :] < lengths[:, None]  # [B, T]


def allowed_paths(crf: CRF, length: int):
    """Every tag path of ``length`` that the constraints permit."""
    for path in itertools.product(range(crf.num_tags), repeat=length):
        ok = crf.allowed_start[path[0]] and crf.allowed_end[path[-1]]
        if ok and all(crf.allowed_transitions[a, b] for a, b in itertools.pairwise(path)):
            yield path


def path_score(crf: CRF, emissions: torch.Tensor, path: tuple[int, ...]) -> torch.Tensor:
    """Score of one allowed path of one sequence, from the raw parameters: ``emissions [L, K]``."""
    score = crf.start[path[0]] + crf.end[path[-1]] + sum(emissions[t, k] for t, k in enumerate(path))
    return score + sum((crf.transitions[a, b] for a, b in itertools.pairwise(path)), torch.tensor(0.0))


def brute_force(crf: CRF, emissions: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, list]:
    """``([B] log partition, [B] best paths)`` by enumerating every allowed path."""
    log_z, best = [], []
    for em, n in zip(emissions, lengths.tolist(), strict=True):
        paths = list(allowed_paths(crf, n))
        scores = torch.stack([path_score(crf, em[:n], p) for p in paths])  # [P]
        log_z.append(torch.logsumexp(scores, 0))
        best.append(list(paths[int(scores.argmax())]))
    return torch.stack(log_z), best


def ner_allowed() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """BIO over tags O, B-PER, I-PER, B-LOC: I-PER only after B-PER or I-PER, never first."""
    trans = torch.ones(4, 4, dtype=torch.bool)
    trans[[0, 3], 2] = False  # O -> I-PER, B-LOC -> I-PER
    start = torch.tensor([True, True, False, True])
    return trans, start, torch.ones(4, dtype=torch.bool)


def random_case(num_tags: int, allowed=None, seed: int = 0):
    torch.manual_seed(seed)
    crf = CRF(num_tags, allowed).double()
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    emissions = torch.randn(3, int(LENGTHS.max()), num_tags, dtype=torch.float64)  # [B, T, K]
    tags = torch.randint(num_tags, (3, int(LENGTHS.max())))  # [B, T]
    return crf, emissions, tags, prefix_mask(LENGTHS, emissions.size(1))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("num_tags,seed", [(3, 0), (4, 1), (4, 2)])
def test_partition_nll_and_viterbi_equal_brute_force(num_tags, seed, device):
    crf, emissions, tags, mask = random_case(num_tags, seed=seed)
    log_z, best = brute_force(crf, emissions, LENGTHS)
    gold = torch.stack([path_score(crf, em, t[:n].tolist()) for em, t, n in zip(emissions, tags, LENGTHS.tolist(),
                                                                               strict=True)])
    crf, emissions, tags, mask = crf.to(device), emissions.to(device), tags.to(device), mask.to(device)
    torch.testing.assert_close(crf.log_partition(emissions, mask).cpu(), log_z, atol=1e-6, rtol=0)
    torch.testing.assert_close(crf(emissions, tags, mask).cpu(), (log_z - gold).sum(), atol=1e-6, rtol=0)
    decoded = crf.decode(emissions, mask)
    assert decoded.shape == tags.shape and decoded.dtype == torch.long
    for row, path, n in zip(decoded.tolist(), best, LENGTHS.tolist(), strict=True):
        assert row[:n] == path and all(k == 0 for k in row[n:])


def test_constraints_match_brute_force_over_allowed_paths():
    crf, emissions, tags, mask = random_case(4, ner_allowed(), seed=3)
    log_z, best = brute_force(crf, emissions, LENGTHS)
    torch.testing.assert_close(crf.log_partition(emissions, mask), log_z, atol=1e-6, rtol=0)
    for row, path, n in zip(crf.decode(emissions, mask).tolist(), best, LENGTHS.tolist(), strict=True):
        assert row[:n] == path


def test_decode_never_takes_a_forbidden_transition():
    crf = CRF(4, ner_allowed())
    emissions = torch.full((2, 3, 4), -20.0)  # [B, T, K]
    emissions[0, 0, 0] = emissions[0, 1, 2] = emissions[0, 2, 2] = 20.0  # O I-PER I-PER
    emissions[1, 0, 2] = emissions[1, 1, 2] = 20.0  # I-PER first
    with torch.no_grad():
        crf.transitions.fill_(50.0)  # the raw values of forbidden entries must not matter
        crf.start.fill_(50.0)
    path = crf.decode(emissions, prefix_mask(torch.tensor([3, 2]), 3)).tolist()
    trans, start, _ = ner_allowed()
    for row, n in zip(path, (3, 2), strict=True):
        assert start[row[0]] and all(trans[a, b] for a, b in itertools.pairwise(row[:n]))
    assert path[1][0] != 2


def test_forbidden_entries_get_no_gradient():
    crf = CRF(4, ner_allowed())
    emissions = torch.randn(3, 4, 4)
    crf(emissions, torch.randint(4, (3, 4)), prefix_mask(LENGTHS, 4)).backward()
    assert torch.all(crf.transitions.grad[~crf.allowed_transitions] == 0)
    assert torch.all(crf.start.grad[~crf.allowed_start] == 0)


def test_padding_does_not_change_the_nll():
    crf, emissions, tags, mask = random_case(3, seed=4)
    garbage = emissions.clone()
    garbage[~mask] = 1e6  # [B, T, K]
    garbage = torch.cat([garbage, torch.full((3, 2, 3), float("nan"), dtype=torch.float64)], 1)  # [B, T+2, K]
    padded_tags = torch.cat([tags.masked_fill(~mask, -100), torch.full((3, 2), -100)], 1)  # [B, T+2]
    padded_mask = torch.cat([mask, torch.zeros(3, 2, dtype=torch.bool)], 1)  # [B, T+2]
    torch.testing.assert_close(crf(garbage, padded_tags, padded_mask), crf(emissions, tags, mask), atol=1e-9, rtol=0)
    assert crf.decode(garbage, padded_mask)[:, : mask.size(1)].tolist() == crf.decode(emissions, mask).tolist()


def test_learns_a_toy_tagging_problem():
    torch.manual_seed(0)
    crf = CRF(3)
    emissions = torch.nn.Parameter(torch.zeros(3, 4, 3))  # [B, T, K]
    gold = torch.tensor([[0, 1, 2, 2], [2, 1, 0, 0], [1, 1, 0, 0]])
    mask = prefix_mask(LENGTHS, 4)
    optimizer = torch.optim.Adam([emissions, *crf.parameters()], lr=0.1)
    losses = []
    for _ in range(40):
        optimizer.zero_grad()
        loss = crf(emissions, gold, mask)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]
    assert torch.equal(crf.decode(emissions, mask), gold.masked_fill(~mask, 0))


def test_average_makes_path_scores_the_members_mean():
    """An ensemble's CRF: with averaged potentials and emissions, every path scores the members' mean score."""
    members = [random_case(4, ner_allowed(), seed) for seed in range(3)]
    joined = copy.deepcopy(members[0][0])
    joined.average([crf for crf, *_ in members[1:]])
    emissions = torch.stack([em for _, em, _, _ in members]).mean(0)  # [B, T, K]
    for path in allowed_paths(joined, 3):
        mean = torch.stack([path_score(crf, em[0, :3], path) for crf, em, _, _ in members]).mean()
        torch.testing.assert_close(path_score(joined, emissions[0, :3], path), mean)
    assert torch.equal(joined.allowed_transitions, members[0][0].allowed_transitions)
