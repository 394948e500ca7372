"""model.init: the same weights whichever impl runs them, and each scheme's defining property."""

import math

import pytest
import torch

from seqexp.errors import ConfigError
from seqexp.models.encoder import Encoder

H = 8


def _encoder(cell: str, init: str, impl: str = "scratch", **kwargs) -> Encoder:
    torch.manual_seed(0)
    return Encoder(20, cell=cell, impl=impl, hidden_size=H, embedding_dim=5, num_layers=2, bidirectional=True,
                   init=init, **kwargs)


@pytest.mark.parametrize(("cell", "init"), [("lstm", "chrono"), ("gru", "chrono"), ("lstm", "orthogonal"),
                                            ("gru", "orthogonal"), ("rnn", "identity"), ("lstm", "default")])
def test_one_seed_gives_the_same_weights_on_either_impl(cell: str, init: str) -> None:
    cudnn, scratch = _encoder(cell, init, "cudnn").rnn.state_dict(), _encoder(cell, init, "scratch").rnn.state_dict()
    assert cudnn.keys() == scratch.keys()
    for name, value in cudnn.items():
        assert torch.equal(value, scratch[name]), name


@pytest.mark.parametrize("cell", ["lstm", "lnlstm"])
def test_chrono_spreads_the_lstm_memory_spans_over_1_to_tmax(cell: str) -> None:
    """Tallec & Ollivier 2018: forget bias log U[1, T_max - 1], input bias its negative, the rest untouched."""
    rnn = _encoder(cell, "chrono", init_tmax=1000).rnn
    bound = 1 / math.sqrt(H)
    for suffix in ("l0", "l1_reverse"):
        bias = (getattr(rnn, f"bias_ih_{suffix}") + getattr(rnn, f"bias_hh_{suffix}")).detach().view(4, H)
        i, f, g, o = bias
        assert 0 <= f.min() and f.max() <= math.log(999) and f.max() > math.log(100)  # spread, not one value
        torch.testing.assert_close(i, -f)
        assert g.abs().max() <= 2 * bound and o.abs().max() <= 2 * bound


def test_chrono_on_the_gru_and_the_minimal_cells_sets_the_keeping_gate() -> None:
    gru = _encoder("gru", "chrono", init_tmax=50).rnn
    z = (gru.bias_ih_l0 + gru.bias_hh_l0).detach().view(3, H)[1]  # r, z, n: z keeps the state
    assert 0 <= z.min() and z.max() <= math.log(49)
    mingru = _encoder("mingru", "chrono", init_tmax=50).rnn
    z = mingru.bias_ih_l0.detach().view(2, H)[0]  # h = (1 - z) h + z h~: z overwrites
    assert -math.log(49) <= z.min() and z.max() <= 0
    minlstm = _encoder("minlstm", "chrono", init_tmax=50).rnn
    f, i, _ = minlstm.bias_ih_l0.detach().view(3, H)
    torch.testing.assert_close(i, -f)


@pytest.mark.parametrize("gain", [1.0, 0.5])
def test_orthogonal_recurrent_blocks_have_every_singular_value_equal_to_the_gain(gain: float) -> None:
    rnn = _encoder("lstm", "orthogonal", init_gain=gain).rnn
    for block in rnn.weight_hh_l1_reverse.detach().view(4, H, H):
        torch.testing.assert_close(torch.linalg.svdvals(block), torch.full((H,), gain))


def test_identity_with_relu_is_the_irnn_which_carries_a_positive_state_unchanged() -> None:
    """Le et al. 2015: W_hh = I, biases 0, relu; with no input a positive state passes through any number of
    steps as it is, on torch.nn's kernel and on ours."""
    for impl in ("cudnn", "scratch"):
        encoder = _encoder("rnn", "identity", impl, nonlinearity="relu")
        rnn = encoder.rnn
        for name, param in rnn.named_parameters():
            if name.startswith("bias"):
                assert not param.any(), name
        torch.testing.assert_close(rnn.weight_hh_l0, torch.eye(H))
        with torch.no_grad():
            for name, param in rnn.named_parameters():
                if name.startswith("weight_ih"):
                    param.zero_()
            h0 = torch.rand(4, 2, H)
            _, _, h_n = encoder(torch.randn(2, 50, 5), torch.tensor([50, 50]), h0)
        torch.testing.assert_close(h_n, h0)


def test_identity_sets_indrnn_weights_to_the_gain() -> None:
    rnn = _encoder("indrnn", "identity", init_gain=0.9).rnn
    torch.testing.assert_close(rnn.weight_hh_l0.detach(), torch.full((H,), 0.9))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"cell": "rnn", "init": "chrono"}, "model.init=chrono sets gate biases: model.cell=rnn has no gates"),
    ({"cell": "mingru", "init": "orthogonal"}, "model.init=orthogonal sets recurrent weights: model.cell=mingru"),
    ({"cell": "indrnn", "init": "orthogonal"}, "model.init=orthogonal: model.cell=indrnn's recurrent weights"),
    ({"cell": "lstm", "init": "chrono", "init_tmax": 2}, "model.init_tmax=2"),
    ({"cell": "lstm", "init": "xavier"}, "model.init: unknown 'xavier'"),
    ({"cell": "lstm", "nonlinearity": "relu"}, "model.nonlinearity=relu is the Elman rnn's"),
    ({"cell": "mingru", "compile_step": True}, "model.compile_step=true"),
])
def test_an_init_the_cell_cannot_take_is_refused_naming_the_key(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Encoder(20, impl="scratch", hidden_size=H, embedding_dim=5, **kwargs)
