"""Bring your own cell: torch.nn's own cells, wrapped to the contract, equal nn.LSTM / nn.GRU through CellRNN
(uni, bi, stacked, padded); a cell breaking the contract is refused in one line; one trains through the CLI."""

import os
import re
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from helpers import QUICK, read_metrics, run_module
from seqexp.errors import ConfigError
from seqexp.models.custom import CellRNN, load_cell
from seqexp.models.encoder import Encoder
from seqexp.run.fit import train

TESTS = Path(__file__).resolve().parents[1]  # on sys.path (pyproject: pythonpath), so the cells here are
MODULE = "models.test_custom"  # importable by this path, in the subprocess too
LENGTHS = torch.tensor([7, 3, 5, 1])
INPUT, HIDDEN = 5, 6


class LSTMCell(nn.Module):
    """torch.nn.LSTMCell to the contract: state (h, c)."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.cell = nn.LSTMCell(input_size, hidden_size)

    def initial_state(self, batch_size: int, device=None, dtype=None) -> tuple[Tensor, Tensor]:
        h = torch.zeros(batch_size, self.cell.hidden_size, device=device, dtype=dtype)
        return h, h

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        h, c = self.cell(x, state)
        return h, (h, c)


class GRUCell(nn.Module):
    """torch.nn.GRUCell to the contract: state h."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.cell = nn.GRUCell(input_size, hidden_size)

    def initial_state(self, batch_size: int, device=None, dtype=None) -> Tensor:
        return torch.zeros(batch_size, self.cell.hidden_size, device=device, dtype=dtype)

    def forward(self, x: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        h = self.cell(x, state)
        return h, h


class WrongWidth(GRUCell):
    def forward(self, x: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        h = self.cell(x, state)
        return h[:, :-1], h


class NoInitialState(nn.Module):
    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()

    def forward(self, x: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        return state, state


TINY = ["model.hidden_size=8", "data.length=10", "data.train_size=64", "data.val_size=32", "data.test_size=32",
        "trainer.max_epochs=1"]
WRAPPED = {"lstm": LSTMCell, "gru": GRUCell}


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_wrapped_torch_cells_equal_torch_rnns(cell, bidirectional, layers):
    torch.manual_seed(0)
    ref = getattr(nn, cell.upper())(INPUT, HIDDEN, layers, batch_first=True, bidirectional=bidirectional)
    ours = CellRNN(WRAPPED[cell], INPUT, HIDDEN, layers, bidirectional)
    for k, wrapped in enumerate(ours.cells):  # layer-major, as torch.nn names them
        name = f"l{k // ours.num_directions}{'_reverse' if k % ours.num_directions else ''}"
        for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(wrapped.cell, kind).data.copy_(getattr(ref, f"{kind}_{name}"))
    x = torch.randn(len(LENGTHS), int(LENGTHS.max()), INPUT)  # [B, T, I]; padding is noise, not zeros
    packed = pack_padded_sequence(x, LENGTHS, batch_first=True, enforce_sorted=False)
    ref_out, ref_state = ref(packed)
    ref_out, _ = pad_packed_sequence(ref_out, batch_first=True)  # [B, T, D*H]
    out, (h_n, states) = ours(x, LENGTHS)
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(h_n, ref_state[0] if cell == "lstm" else ref_state, atol=1e-5, rtol=1e-5)
    if cell == "lstm":  # the carried cell states too, each sequence's at its last real step
        torch.testing.assert_close(torch.stack([c for _, c in states]), ref_state[1], atol=1e-5, rtol=1e-5)


def test_padded_steps_leave_the_state_alone():
    torch.manual_seed(0)
    rnn = CellRNN(GRUCell, INPUT, HIDDEN, 2, bidirectional=True)
    x = torch.randn(2, 6, INPUT)
    out, (h_n, _) = rnn(x, torch.tensor([6, 3]))
    alone, (h_alone, _) = rnn(x[1:, :3], torch.tensor([3]))
    torch.testing.assert_close(out[1:, :3], alone)
    torch.testing.assert_close(h_n[:, 1:], h_alone)
    assert torch.count_nonzero(out[1, 3:]) == 0


def test_the_encoder_takes_an_import_path():
    enc = Encoder(30, cell=f"{MODULE}.GRUCell", embedding_dim=8, hidden_size=5, num_layers=2, bidirectional=True,
                  impl="scratch")
    out, final, _ = enc(torch.randint(2, 30, (3, 4)), torch.tensor([4, 2, 3]))
    assert out.shape == (3, 4, 10) and final.shape == (3, 10)
    torch.testing.assert_close(final[:, :5], out[torch.arange(3), torch.tensor([3, 1, 2]), :5])
    with pytest.raises(ConfigError, match="needs model.impl=scratch"):
        Encoder(30, cell=f"{MODULE}.GRUCell")


@pytest.mark.parametrize("path,message", [
    ("no_such_module.Cell", "cannot import it (ModuleNotFoundError"),
    (f"{MODULE}.Nowhere", "cannot import it (AttributeError"),
    (f"{MODULE}.MODULE", "not a torch.nn.Module class"),
    (f"{MODULE}.NoInitialState", "no initial_state(batch_size, device=None, dtype=None) method"),
    (f"{MODULE}.WrongWidth", "h_t of shape (2, 3), expected [batch, hidden_size] = (2, 4)"),
])
def test_a_cell_breaking_the_contract_is_refused(path, message):
    with pytest.raises(ConfigError) as error:
        load_cell(path)
    assert str(error.value).startswith(f"model.cell={path}: ") and message in str(error.value)


def _seqexp(run_dir: Path, *overrides: str):
    env = {"PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    return run_module("seqexp", f"hydra.run.dir={run_dir}", *QUICK, *overrides, env=env, cwd=run_dir.parent)


@pytest.mark.slow  # a subprocess: ~20 s
def test_a_user_cell_trains_through_the_command_line(tmp_path):
    proc = _seqexp(tmp_path / "run", "task=adding", *TINY, f"model.cell={MODULE}.LSTMCell", "model.impl=scratch",
                   "model.bidirectional=true", "model.num_layers=2", "callbacks.grad_flow.every_n_steps=1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert read_metrics(tmp_path / "run")["metrics"]["test/mse"] > 0
    assert (tmp_path / "run" / "grad_flow.png").is_file()


@pytest.mark.slow  # a subprocess: ~20 s
def test_a_malformed_cell_is_refused_in_one_line(tmp_path):
    proc = _seqexp(tmp_path / "run", "task=adding", *TINY, f"model.cell={MODULE}.WrongWidth", "model.impl=scratch")
    assert proc.returncode == 2
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out
    lines = [line for line in out.splitlines() if f"model.cell={MODULE}.WrongWidth" in line]
    assert len(lines) == 1 and "h_t of shape" in lines[0], out[-2000:]


def test_the_readme_cell_keeps_the_contract(tmp_path, monkeypatch):
    """README's example cell (The RNN lab), saved as mycells.py as the README says, runs in the encoder."""
    readme = (TESTS.parent / "README.md").read_text()
    (tmp_path / "mycells.py").write_text(re.search(r"Save\s+this\s+as `mycells.py`.*?```python\n(.*?)```", readme,
                                                   re.S).group(1))
    monkeypatch.syspath_prepend(str(tmp_path))
    enc = Encoder(30, cell="mycells.MGU", impl="scratch", embedding_dim=4, hidden_size=5, bidirectional=True)
    out, final, _ = enc(torch.randint(2, 30, (3, 4)), torch.tensor([4, 2, 3]))
    assert out.shape == (3, 4, 10) and final.shape == (3, 10)


@pytest.mark.slow  # reads four corpora: ~60 s on 2 busy cores
@pytest.mark.parametrize("task", ["classify", "ner", "lm", "seq2seq"])
def test_a_user_cell_fits_one_batch_of_every_task(make_cfg, task):
    """Bidirectional where the task's default model is (classify, ner), state carried across windows (lm), bridged
    into a decoder (seq2seq)."""
    result = train(make_cfg(f"task={task}", f"model.cell={MODULE}.LSTMCell", "model.impl=scratch",
                            "model.hidden_size=8", "model.char=none", "+trainer.fast_dev_run=1"))
    assert result["metrics"]


def test_task_cond_needs_a_built_in_cell(make_cfg):
    with pytest.raises(Exception, match="task=cond needs a built-in cell"):  # ConfigError, inside Hydra's wrapper
        train(make_cfg("task=cond", f"model.cell={MODULE}.GRUCell", "model.impl=scratch", "+trainer.fast_dev_run=1"))
