"""ScratchRNN must be numerically interchangeable with torch.nn on packed sequences."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from helpers import DEVICES
from seqexp.models.cells import ScratchRNN
from seqexp.models.recurrence import Probe

LENGTHS = [7, 3, 5, 1]
INPUT, HIDDEN = 5, 6
TOL = {"atol": 1e-5, "rtol": 1e-5}
GPU_TOL = {"atol": 2e-3, "rtol": 2e-3}  # cuDNN's RNN kernels may multiply in TF32 (10-bit mantissa)
COMPILE_TOL = {"atol": 1e-4, "rtol": 1e-3}  # fused kernels sum in another order (layer norm's backward: ~4e-5)


def _pair(cell: str, num_layers: int, bidirectional: bool) -> tuple[nn.RNNBase, ScratchRNN]:
    """A torch.nn module and a ScratchRNN sharing the same weights."""
    torch.manual_seed(0)
    ref = getattr(nn, cell.upper())(
        INPUT, HIDDEN, num_layers=num_layers, bidirectional=bidirectional, batch_first=True
    )
    scratch = ScratchRNN(cell, INPUT, HIDDEN, num_layers=num_layers, bidirectional=bidirectional)
    scratch.load_state_dict(ref.state_dict())
    return ref, scratch


def _batch(seed: int = 1) -> tuple[Tensor, Tensor]:
    """Padded input [B, T, INPUT] with garbage (non-zero) padding, plus lengths."""
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(LENGTHS)
    x = torch.randn(len(LENGTHS), max(LENGTHS), INPUT, generator=gen)  # [B, T, I]
    return x, lengths


def _run_ref(ref: nn.RNNBase, x: Tensor, lengths: Tensor, state=None):
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, final = ref(packed, state)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    return out, final


def _initial_state(cell: str, num_layers: int, bidirectional: bool):
    gen = torch.Generator().manual_seed(2)
    shape = (num_layers * (2 if bidirectional else 1), len(LENGTHS), HIDDEN)
    h0 = torch.randn(shape, generator=gen)
    return (h0, torch.randn(shape, generator=gen)) if cell == "lstm" else h0


def _assert_state_close(a, b, tol: dict = TOL) -> None:
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b) == 2
        for x, y in zip(a, b, strict=True):
            torch.testing.assert_close(x, y, **tol)
    else:
        torch.testing.assert_close(a, b, **tol)


def test_parameter_names_and_shapes_match_torch() -> None:
    for cell in ("rnn", "gru", "lstm"):
        ref, scratch = _pair(cell, 2, True)
        ref_shapes = {k: v.shape for k, v in ref.state_dict().items()}
        assert {k: v.shape for k, v in scratch.state_dict().items()} == ref_shapes


def test_init_is_uniform_within_torch_bound() -> None:
    scratch = ScratchRNN("lnlstm", INPUT, 16, num_layers=2, bidirectional=True)
    bound = 1.0 / 16**0.5
    for name, p in scratch.named_parameters():
        if name.startswith("ln_"):
            expected = torch.ones_like(p) if name.endswith("weight") else torch.zeros_like(p)
            torch.testing.assert_close(p.detach(), expected)
        else:
            assert p.abs().max() <= bound
            assert p.abs().max() > 0.5 * bound  # actually randomised, not left at zero
    assert "ln_ih_l1_reverse.weight" in scratch.state_dict()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "given_state"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_matches_torch_nn(cell: str, bidirectional: bool, num_layers: int, with_state: bool, device: str) -> None:
    """On a GPU the reference is cuDNN, which may sum in TF32: equal to GPU_TOL there."""
    ref, scratch = _pair(cell, num_layers, bidirectional)
    ref, scratch = ref.to(device), scratch.to(device)
    x, lengths = _batch()
    x = x.to(device)
    state = _initial_state(cell, num_layers, bidirectional) if with_state else None
    if state is not None:
        state = tuple(s.to(device) for s in state) if isinstance(state, tuple) else state.to(device)

    with torch.no_grad():
        ref_out, ref_final = _run_ref(ref, x, lengths, state)
        out, final = scratch(x, lengths, state)

    tol = TOL if device == "cpu" else GPU_TOL
    assert out.shape == (len(LENGTHS), max(LENGTHS), HIDDEN * (2 if bidirectional else 1))
    torch.testing.assert_close(out, ref_out, **tol)
    _assert_state_close(final, ref_final, tol)
    pad = torch.arange(max(LENGTHS), device=device)[None, :] >= lengths.to(device)[:, None]  # [B, T]
    assert pad.any()
    assert torch.count_nonzero(out[pad]) == 0


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_gradients_match_torch_nn(cell: str) -> None:
    ref, scratch = _pair(cell, 2, True)
    x, lengths = _batch()
    x_ref = x.clone().requires_grad_(True)
    x_scr = x.clone().requires_grad_(True)
    state = _initial_state(cell, 2, True)
    weight = torch.randn(len(LENGTHS), max(LENGTHS), 2 * HIDDEN, generator=torch.Generator().manual_seed(3))

    def loss(out: Tensor, final) -> Tensor:
        h_n = final[0] if isinstance(final, tuple) else final
        extra = final[1].square().sum() if isinstance(final, tuple) else 0.0
        return (out * weight).sum() + h_n.sin().sum() + extra

    loss(*_run_ref(ref, x_ref, lengths, state)).backward()
    loss(*scratch(x_scr, lengths, state)).backward()

    scratch_params = dict(scratch.named_parameters())
    for name, p in ref.named_parameters():
        torch.testing.assert_close(
            scratch_params[name].grad, p.grad, **TOL, msg=lambda m, n=name: f"{n}: {m}"
        )
    torch.testing.assert_close(x_scr.grad, x_ref.grad, **TOL)


def test_lengths_dtype_is_normalised() -> None:
    # lengths may arrive as int32 (or on CPU); forward must cast/move them itself.
    _, scratch = _pair("gru", 1, True)
    x, lengths = _batch()
    out_a, h_a = scratch(x, lengths)
    out_b, h_b = scratch(x, lengths.to(torch.int32))
    torch.testing.assert_close(out_a, out_b)
    torch.testing.assert_close(h_a, h_b)


# ---------------------------------------------------------------- LayerNorm-LSTM


def _lnlstm(num_layers: int = 2, bidirectional: bool = True) -> ScratchRNN:
    torch.manual_seed(0)
    model = ScratchRNN("lnlstm", INPUT, HIDDEN, num_layers=num_layers, bidirectional=bidirectional)
    with torch.no_grad():  # non-trivial LN affine params so the test exercises them
        for name, p in model.named_parameters():
            if name.startswith("ln_"):
                p.add_(0.3 * torch.randn_like(p))
    return model.eval()


def test_lnlstm_padding_invariance() -> None:
    model = _lnlstm()
    x, lengths = _batch()
    with torch.no_grad():
        out, (h_n, c_n) = model(x, lengths)
        for b, n in enumerate(LENGTHS):
            out_b, (h_b, c_b) = model(x[b : b + 1, :n], torch.tensor([n]))
            torch.testing.assert_close(out[b : b + 1, :n], out_b, **TOL)
            assert torch.count_nonzero(out[b, n:]) == 0
            torch.testing.assert_close(h_n[:, b : b + 1], h_b, **TOL)
            torch.testing.assert_close(c_n[:, b : b + 1], c_b, **TOL)


def _reference_lnlstm_direction(model: ScratchRNN, name: str, xs: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Plain per-step LN-LSTM for one direction of one layer on one sequence [T, in]."""
    w_ih, w_hh = getattr(model, f"weight_ih_{name}"), getattr(model, f"weight_hh_{name}")
    b = getattr(model, f"bias_ih_{name}") + getattr(model, f"bias_hh_{name}")
    ln_ih, ln_hh, ln_c = (getattr(model, f"ln_{k}_{name}") for k in ("ih", "hh", "c"))
    h = torch.zeros(HIDDEN)
    c = torch.zeros(HIDDEN)
    hs = []
    for x_t in xs:
        gates = ln_ih(w_ih @ x_t) + ln_hh(w_hh @ h) + b
        i, f, g, o = gates.chunk(4)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(ln_c(c))
        hs.append(h)
    return torch.stack(hs), h, c


def test_lnlstm_matches_per_step_reference() -> None:
    model = _lnlstm(num_layers=2, bidirectional=True)
    x, _ = _batch()
    n = 6
    seq = x[0, :n]  # [T, I]
    with torch.no_grad():
        out, (h_n, c_n) = model(x[:1, :n], torch.tensor([n]))
        layer_in = seq
        for layer in range(2):
            fwd, h_f, c_f = _reference_lnlstm_direction(model, f"l{layer}", layer_in)
            bwd, h_b, c_b = _reference_lnlstm_direction(model, f"l{layer}_reverse", layer_in.flip(0))
            layer_in = torch.cat([fwd, bwd.flip(0)], dim=-1)  # [T, 2H]
            torch.testing.assert_close(h_n[2 * layer : 2 * layer + 2, 0], torch.stack([h_f, h_b]), **TOL)
            torch.testing.assert_close(c_n[2 * layer : 2 * layer + 2, 0], torch.stack([c_f, c_b]), **TOL)
        torch.testing.assert_close(out[0], layer_in, **TOL)


def test_lnlstm_trains_on_copy_first_token() -> None:
    """Classify the first token of a variable-length sequence from the final state."""
    torch.manual_seed(0)
    vocab, batch, steps = 4, 32, 8
    tokens = torch.randint(vocab, (batch, steps))
    lengths = torch.randint(3, steps + 1, (batch,))
    x = F.one_hot(tokens, vocab).float()  # [B, T, V]
    rnn = ScratchRNN("lnlstm", vocab, 16)
    head = nn.Linear(16, vocab)
    opt = torch.optim.Adam([*rnn.parameters(), *head.parameters()], lr=0.03)
    losses = []
    for _ in range(40):
        _, (h_n, _) = rnn(x, lengths)
        loss = F.cross_entropy(head(h_n[-1]), tokens[:, 0])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


# ---------------------------------------------------------------- compile_step


@pytest.mark.parametrize("cell", ["gru", "lnlstm"])
def test_compiled_step_equals_the_eager_one(cell: str) -> None:
    """``compile_step``: torch.compile's fused kernels give the eager loop's outputs, final state and gradients,
    for a second batch size too (the recompile that makes the batch dimension dynamic)."""
    torch.manual_seed(0)
    eager = ScratchRNN(cell, INPUT, HIDDEN, num_layers=2, bidirectional=True)
    compiled = ScratchRNN(cell, INPUT, HIDDEN, num_layers=2, bidirectional=True, compile_step=True)
    compiled.load_state_dict(eager.state_dict())
    for rows in (len(LENGTHS), 2):
        x, lengths = _batch()
        x, lengths = x[:rows], lengths[:rows]
        results = []
        for model in (eager, compiled):
            model.zero_grad()
            out, final = model(x, lengths)
            (out.square().sum() + sum(f.sum() for f in (final if isinstance(final, tuple) else (final,)))).backward()
            results.append((out, final, [p.grad for p in model.parameters()]))
        (out_e, final_e, grads_e), (out_c, final_c, grads_c) = results
        torch.testing.assert_close(out_c, out_e, **TOL)
        _assert_state_close(final_c, final_e)
        for g_c, g_e in zip(grads_c, grads_e, strict=True):
            torch.testing.assert_close(g_c, g_e, **COMPILE_TOL)


# ---------------------------------------------------------------- dropout


@pytest.mark.parametrize("cell", ["lstm", "lnlstm"])
def test_dropout_only_in_training(cell: str) -> None:
    torch.manual_seed(0)
    dropped = ScratchRNN(cell, INPUT, HIDDEN, num_layers=2, dropout=0.5)
    plain = ScratchRNN(cell, INPUT, HIDDEN, num_layers=2, dropout=0.0)
    plain.load_state_dict(dropped.state_dict())
    x, lengths = _batch()

    dropped.eval()
    plain.eval()
    with torch.no_grad():
        torch.testing.assert_close(dropped(x, lengths)[0], plain(x, lengths)[0])

        dropped.train()
        out_a, _ = dropped(x, lengths)
        out_b, _ = dropped(x, lengths)
    assert not torch.allclose(out_a, out_b)
    pad = torch.arange(max(LENGTHS))[None, :] >= lengths[:, None]
    assert torch.count_nonzero(out_a[pad]) == 0


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown cell"):
        ScratchRNN("transformer", INPUT, HIDDEN)
    model = ScratchRNN("lstm", INPUT, HIDDEN)
    x, lengths = _batch()
    with pytest.raises(ValueError, match=r"\(h0, c0\)"):
        model(x, lengths, torch.zeros(1, len(LENGTHS), HIDDEN))


# --- IndRNN, minGRU, minLSTM: cells torch.nn does not have, checked against the papers' equations written out ---

def _reference_direction(model: ScratchRNN, name: str, xs: Tensor, h: Tensor) -> Tensor:
    """The cell's paper equations, one step at a time, for one direction of one layer on one sequence [T, in]."""
    w_ih, b = getattr(model, f"weight_ih_{name}"), getattr(model, f"bias_ih_{name}")
    hs = []
    for x_t in xs:
        k = w_ih @ x_t + b
        if model.cell == "indrnn":  # Li et al. 2018, eq. 2, with |u| bounded
            u = getattr(model, f"weight_hh_{name}").clamp(-model.recurrent_bound, model.recurrent_bound)
            h = torch.relu(k + getattr(model, f"bias_hh_{name}") + u * h)
        else:  # Feng et al. 2024, sections 3.1.3 and 3.2.3; g(x) = x + 0.5 (x >= 0), sigmoid(x) (x < 0)
            g = lambda v: torch.where(v >= 0, v + 0.5, torch.sigmoid(v))  # noqa: E731
            if model.cell == "mingru":
                z_pre, cand = k.chunk(2)
                z = torch.sigmoid(z_pre)
                h = (1 - z) * h + z * g(cand)
            else:
                f_pre, i_pre, cand = k.chunk(3)
                f, i = torch.sigmoid(f_pre), torch.sigmoid(i_pre)
                h = f / (f + i) * h + i / (f + i) * g(cand)
        hs.append(h)
    return torch.stack(hs)  # [T, H]


@pytest.mark.parametrize("cell", ["indrnn", "mingru", "minlstm"])
def test_new_cells_match_their_papers_equations(cell: str) -> None:
    torch.manual_seed(0)
    model = ScratchRNN(cell, INPUT, HIDDEN, num_layers=2, bidirectional=True, tmax=10).eval()
    x, lengths = _batch()
    h0 = _initial_state("rnn", 2, True)  # [4, B, H]
    with torch.no_grad():
        out, h_n = model(x, lengths, h0)
        for b, n in enumerate(LENGTHS):
            layer_in = x[b, :n]  # [T, I]
            for layer in range(2):
                fwd = _reference_direction(model, f"l{layer}", layer_in, h0[2 * layer, b])
                bwd = _reference_direction(model, f"l{layer}_reverse", layer_in.flip(0), h0[2 * layer + 1, b])
                torch.testing.assert_close(h_n[2 * layer : 2 * layer + 2, b], torch.stack([fwd[-1], bwd[-1]]), **TOL)
                layer_in = torch.cat([fwd, bwd.flip(0)], dim=-1)  # [T, 2H]
            torch.testing.assert_close(out[b, :n], layer_in, **TOL)
            assert torch.count_nonzero(out[b, n:]) == 0


@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
def test_the_parallel_scan_equals_the_step_on_long_padded_batches(cell: str) -> None:
    """Training runs the parallel scan; a probe (and decoding, one step at a time) runs the step: the same numbers
    and the same gradients, to 1e-5, over 200 steps with padding and a carried-in state of either sign."""
    torch.manual_seed(0)
    model = ScratchRNN(cell, INPUT, HIDDEN, num_layers=2, bidirectional=True)
    x = torch.randn(3, 200, INPUT, requires_grad=True)  # [B, T, I]
    lengths = torch.tensor([200, 57, 1])
    h0 = torch.randn(4, 3, HIDDEN)  # [L*D, B, H]
    results = []
    for probe in (None, Probe()):
        model.probe = probe
        out, h_n = model(x, lengths, h0)
        (grad,) = torch.autograd.grad((out * torch.linspace(-1, 1, 2 * HIDDEN)).sum() + h_n.sum(), x)
        results.append((out, h_n, grad))
    model.probe = None
    for scanned, stepped in zip(*results, strict=True):
        torch.testing.assert_close(scanned, stepped, **TOL)


def test_padding_never_changes_a_scanned_state() -> None:
    """A sequence run alone and in a padded batch ends in the same state and outputs zeros at padding: padding is
    a = 1, b = 0 in the scan."""
    torch.manual_seed(0)
    model = ScratchRNN("minlstm", INPUT, HIDDEN).eval()
    x, lengths = _batch()
    with torch.no_grad():
        out, h_n = model(x, lengths)
        for b, n in enumerate(LENGTHS):
            out_b, h_b = model(x[b : b + 1, :n], torch.tensor([n]))
            torch.testing.assert_close(h_n[:, b : b + 1], h_b, **TOL)
            torch.testing.assert_close(out[b : b + 1, :n], out_b, **TOL)
            assert torch.count_nonzero(out[b, n:]) == 0


def test_indrnn_bounds_its_recurrent_weights() -> None:
    """|u| <= 2 ** (1 / tmax): with every u set to 5, a unit fed zeros keeps at most a factor 2 over tmax steps."""
    model = ScratchRNN("indrnn", INPUT, HIDDEN, tmax=10)
    assert 2 ** -0.1 <= model.weight_hh_l0.min() and model.weight_hh_l0.max() <= 2 ** 0.1  # the top layer
    lower = ScratchRNN("indrnn", INPUT, HIDDEN, num_layers=2, tmax=10).weight_hh_l0
    assert 0 <= lower.min() < 2 ** -0.1 and lower.max() <= 2 ** 0.1  # below the top: U(0, bound)
    with torch.no_grad():
        model.weight_hh_l0.fill_(5.0)
        model.weight_ih_l0.zero_()
        model.bias_ih_l0.zero_()
        model.bias_hh_l0.zero_()
        _, h_n = model(torch.zeros(1, 10, INPUT), torch.tensor([10]), torch.ones(1, 1, HIDDEN))
    torch.testing.assert_close(h_n, torch.full_like(h_n, 2.0))


def test_relu_elman_matches_torch_nn() -> None:
    torch.manual_seed(0)
    ref = nn.RNN(INPUT, HIDDEN, nonlinearity="relu", batch_first=True)
    scratch = ScratchRNN("rnn", INPUT, HIDDEN, nonlinearity="relu")
    scratch.load_state_dict(ref.state_dict())
    x, lengths = _batch()
    expected, h_ref = _run_ref(ref, x, lengths)
    out, h_n = scratch(x, lengths)
    torch.testing.assert_close(out, expected, **TOL)
    torch.testing.assert_close(h_n, h_ref, **TOL)
    with pytest.raises(ValueError, match="nonlinearity"):
        ScratchRNN("gru", INPUT, HIDDEN, nonlinearity="relu")
