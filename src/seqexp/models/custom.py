"""Bring your own cell: ``model.cell=mypkg.cells.PeepholeLSTM`` (with ``model.impl=scratch``) runs any module with
the cell contract through ``CellRNN``, stacked, bidirectional, on padded batches, in every task.

The contract: built as ``Cell(input_size, hidden_size)``; ``forward(x_t [B, I], state) -> (h_t [B, H], state)``,
one step, the state a tensor or a tuple of tensors; ``initial_state(batch_size, device=None, dtype=None)``.
"""

from __future__ import annotations

import importlib

import torch
from torch import Tensor, nn

from seqexp.errors import ConfigError
from seqexp.models.recurrence import Frame, Recurrence

CellState = Tensor | tuple[Tensor, ...]


def load_cell(path: str) -> type[nn.Module]:
    """The cell class at ``path`` (``module.Class``), checked against the contract on a tiny batch, so a broken cell
    is refused in one line before training rather than deep inside its first step."""
    module, _, name = path.rpartition(".")
    try:
        cell = getattr(importlib.import_module(module), name)
    except Exception as e:  # noqa: BLE001 - the user's module: whatever fails on import is the message
        raise ConfigError(f"model.cell={path}: cannot import it ({type(e).__name__}: {e})") from None
    _check_contract(path, cell)
    return cell


def _check_contract(path: str, cell: object) -> None:
    where = f"model.cell={path}"
    if not (isinstance(cell, type) and issubclass(cell, nn.Module)):
        raise ConfigError(f"{where}: not a torch.nn.Module class")
    batch, inputs, hidden = 2, 3, 4
    try:
        module = cell(inputs, hidden)
    except Exception as e:  # noqa: BLE001
        raise ConfigError(f"{where}: Cell(input_size, hidden_size) fails: {type(e).__name__}: {e}") from None
    if not callable(getattr(module, "initial_state", None)):
        raise ConfigError(f"{where}: no initial_state(batch_size, device=None, dtype=None) method")
    try:
        state = module.initial_state(batch, device=torch.device("cpu"), dtype=torch.float32)
        out = module(torch.zeros(batch, inputs), state)
    except Exception as e:  # noqa: BLE001
        raise ConfigError(f"{where}: a step fails: {type(e).__name__}: {e}") from None
    if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], Tensor)):
        raise ConfigError(f"{where}: forward(x_t, state) must return (h_t, state)")
    if tuple(out[0].shape) != (batch, hidden):
        raise ConfigError(f"{where}: forward returns h_t of shape {tuple(out[0].shape)}, expected [batch, "
                          f"hidden_size] = {(batch, hidden)}")
    if _shapes(out[1]) != _shapes(state):
        raise ConfigError(f"{where}: forward returns a state shaped {_shapes(out[1])}, initial_state "
                          f"{_shapes(state)}: they must match")


def _shapes(state: object) -> object:
    if isinstance(state, Tensor):
        return tuple(state.shape)
    if isinstance(state, tuple) and state and all(isinstance(s, Tensor) for s in state):
        return tuple(tuple(s.shape) for s in state)
    return f"a {type(state).__name__} (expected a tensor or a tuple of tensors)"


def _where(keep: Tensor, new: CellState, old: CellState) -> CellState:
    """``new`` where ``keep [B, 1]``, else ``old``, for a tensor or tuple state: padded steps change nothing."""
    if isinstance(new, Tensor):
        return torch.where(keep, new, old)
    return tuple(torch.where(keep, n, o) for n, o in zip(new, old, strict=True))


class CellRNN(Recurrence):
    """Stacked, optionally bidirectional recurrence of a user cell: ``forward(x [B, T, I], lengths [B], state) ->
    (outputs [B, T, D*H], (h_n [L*D, B, H], states))``, torch.nn's padded-sequence semantics (outputs zero at
    padding, final states at each sequence's last real step). ``states`` holds each layer and direction's cell
    state; passing the pair back continues from it (task=lm carries it across windows)."""

    def __init__(self, cell: type[nn.Module], input_size: int, hidden_size: int, num_layers: int = 1,
                 bidirectional: bool = False, dropout: float = 0.0):
        super().__init__(input_size, hidden_size, num_layers, bidirectional, dropout)
        self.cells = nn.ModuleList(
            cell(input_size if layer == 0 else hidden_size * self.num_directions, hidden_size)
            for layer in range(num_layers) for _ in range(self.num_directions))  # layer-major, as torch.nn's h_n

    def initial(self, x: Tensor, state: tuple[Tensor, tuple] | None) -> list[list[CellState]]:
        """Each layer's cell states, one per direction: those of ``state`` (a ``forward``'s final pair), or each
        cell's ``initial_state``."""
        d = self.num_directions
        states = state[1] if state is not None else [
            cell.initial_state(x.size(0), device=x.device, dtype=x.dtype) for cell in self.cells]
        return [list(states[k * d : (k + 1) * d]) for k in range(self.num_layers)]

    def final(self, finals: list[tuple[list[Tensor], list[CellState]]]) -> tuple[Tensor, tuple]:
        """``(h_n [L*D, B, H], states)``, layer-major."""
        return torch.stack([h for hs, _ in finals for h in hs]), tuple(s for _, ss in finals for s in ss)

    def layer(self, layer: int, x: Tensor, start: list[CellState], frame: Frame
              ) -> tuple[Tensor, tuple[list[Tensor], list[CellState]]]:
        """Each direction in turn over its reading order: (outputs [B, T, D*H], (h per direction, states))."""
        outs, finals, states = [], [], []
        for d, state in enumerate(start):
            cell = self.cells[layer * self.num_directions + d]
            seq = x if d == 0 else frame.reverse(x)  # [B, T, I], reading order
            out, h, state = self._run(cell, seq, state, frame.valid, d)  # [B, T, H], [B, H]
            outs.append(out if d == 0 else frame.reverse(out))  # [B, T, H], back in time order
            finals.append(h)
            states.append(state)
        return torch.cat(outs, dim=-1), (finals, states)  # [B, T, D*H]

    def _run(self, cell: nn.Module, seq: Tensor, state: CellState, valid: Tensor, direction: int
             ) -> tuple[Tensor, Tensor, CellState]:
        """One direction over ``seq [B, T, I]`` in reading order with ``valid [T, B]``: (outputs [B, T, H],
        h_n [B, H], final state); a sequence's state stops changing after its last real step."""
        batch, steps, _ = seq.shape
        h = seq.new_zeros(batch, self.hidden_size)  # [B, H]: h_n of an empty sequence
        outputs = []
        probe = self.probe
        if probe is not None and direction == 0:
            probe.states.append([[] for _ in range(steps)])
            probe.gates.append([() for _ in range(steps)])  # a user cell's gates are its own
        for t in range(steps):
            keep = valid[t, :, None]  # [B, 1]
            h_new, new = cell(seq[:, t], state)  # [B, H]
            if probe is not None:
                probe.states[-1][t].append(h_new)
            state = _where(keep, new, state)
            h = torch.where(keep, h_new, h)  # [B, H]
            outputs.append(h_new * keep)  # [B, H]; zeros at padding
        return torch.stack(outputs, dim=1), h, state  # [B, T, H], [B, H]
