"""The parallel scan against the loop it replaces, and the minimal cells' pieces against the paper's formulas."""

import pytest
import torch

from seqexp.models.scan import linear_scan, min_candidate


def _loop(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    h, states = torch.zeros_like(b[0]), []
    for a_t, b_t in zip(a, b, strict=True):
        h = a_t * h + b_t
        states.append(h)
    return torch.stack(states)


@pytest.mark.parametrize("steps", [1, 2, 3, 7, 64, 200])
def test_linear_scan_equals_the_loop_forward_and_backward(steps: int) -> None:
    """Every length (odd ones pad a level), values and gradients, in float64 so the comparison is tight."""
    torch.manual_seed(steps)
    a = torch.rand(steps, 2, 3, dtype=torch.float64, requires_grad=True)  # keep gates: [0, 1]
    b = torch.randn(steps, 2, 3, dtype=torch.float64, requires_grad=True)  # any sign
    weights = torch.randn(steps, 2, 3, dtype=torch.float64)
    scanned, looped = linear_scan(a, b), _loop(a, b)
    torch.testing.assert_close(scanned, looped, rtol=1e-12, atol=1e-12)
    grads = [torch.autograd.grad((h * weights).sum(), (a, b)) for h in (scanned, looped)]
    for got, want in zip(*grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    if steps <= 7:  # gradcheck's numerical Jacobian grows as steps squared; the comparison above covers the rest
        assert torch.autograd.gradcheck(linear_scan, (a, b))


def test_linear_scan_along_a_later_axis_runs_in_place_of_a_transpose() -> None:
    """Time on axis 1 of a batch-first ``[B, T, H]``: the same values and gradients as the scan of the time-first
    copy, and the states come back batch-first and contiguous, as the inputs were (no transposing copy)."""
    torch.manual_seed(0)
    a = torch.rand(4, 9, 3, dtype=torch.float64, requires_grad=True)  # [B, T, H]
    b = torch.randn(4, 9, 3, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(4, 9, 3, dtype=torch.float64)
    along = linear_scan(a, b, dim=1)
    assert along.is_contiguous()
    first = linear_scan(a.transpose(0, 1).contiguous(), b.transpose(0, 1).contiguous()).transpose(0, 1)
    torch.testing.assert_close(along, first, rtol=1e-12, atol=1e-12)
    grads = [torch.autograd.grad((h * weights).sum(), (a, b)) for h in (along, first)]
    for got, want in zip(*grads, strict=True):
        assert got.is_contiguous()
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_linear_scan_underflows_to_zero_not_nan() -> None:
    """Products of 512 keep gates of 1e-3 are far below float32's range: they become 0, and nothing is NaN."""
    a = torch.full((512, 4), 1e-3, requires_grad=True)
    b = torch.ones(512, 4, requires_grad=True)
    h = linear_scan(a, b)
    h.sum().backward()
    torch.testing.assert_close(h, _loop(a, b))  # which forms no products
    assert torch.isfinite(a.grad).all() and torch.isfinite(b.grad).all()


def test_min_candidate_is_the_papers_g() -> None:
    """g(x) = x + 0.5 for x >= 0, sigmoid(x) below (Feng et al. 2024), and its derivative, 1 and sigmoid'."""
    x = torch.linspace(-6, 6, 1201, dtype=torch.float64, requires_grad=True)
    want = torch.where(x >= 0, x + 0.5, torch.sigmoid(x))
    got = min_candidate(x)
    torch.testing.assert_close(got, want)
    (grad,) = torch.autograd.grad(got.sum(), x)
    s = torch.sigmoid(x.detach())
    torch.testing.assert_close(grad, torch.where(x.detach() >= 0, torch.ones_like(s), s * (1 - s)))
