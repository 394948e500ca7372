"""Hand-written ("scratch") recurrent cells and a multi-layer driver.

Used when a config sets ``impl: scratch``: it makes the recurrence explicit (so cells
such as the LayerNorm-LSTM can be added) while staying numerically interchangeable with
``torch.nn.RNN/GRU/LSTM`` — same parameter names, shapes, init, gate order and
packed-sequence semantics — so checkpoints load in both directions.

Layout conventions inside this module: ``D`` directions are stacked on a leading axis
(``[D, B, ...]``) so both directions of a layer advance with one batched matmul per
time step; the reverse direction works on per-sequence time-reversed data, which makes
its valid steps ``t < lengths`` exactly like the forward direction.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqexp.models.scan import min_scan, min_step


@dataclass(frozen=True)
class Cell:
    """What the driver and the initialisations (seqexp.models.init) need to know of a cell.

    ``blocks``: gate blocks of ``hidden_size`` rows stacked in ``weight_ih`` (torch.nn's order). ``recurrent``: the
    shape of ``weight_hh``: a ``[blocks*H, H]`` matrix, an ``[H]`` vector (IndRNN: each unit sees only itself) or
    none (minGRU/minLSTM: the gates read the input only, which is what lets them train by a parallel scan).
    ``keep``/``write``: the block whose bias, raised, makes the state last longer / be overwritten sooner (chrono
    sets them to +-log U[1, T_max - 1]); None where the cell has no such gate. ``gates``: the names of the gates a
    step returns (``Gates``), in its order, as the cell's paper names them."""

    blocks: int
    recurrent: str = "matrix"  # matrix | vector | none
    keep: int | None = None
    write: int | None = None
    cell_state: bool = False
    gates: tuple[str, ...] = ()

    @property
    def scan(self) -> bool:
        """Training runs as a parallel scan over time: no gate reads the previous state."""
        return self.recurrent == "none"


CELLS: dict[str, Cell] = {
    "rnn": Cell(1),
    "gru": Cell(3, keep=1, gates=("update", "reset")),  # r, z, n; h = (1 - z) n + z h: z keeps
    "lstm": Cell(4, keep=1, write=0, cell_state=True, gates=("forget", "input", "output")),  # i, f, g, o
    "lnlstm": Cell(4, keep=1, write=0, cell_state=True, gates=("forget", "input", "output")),
    "indrnn": Cell(1, recurrent="vector"),  # Li et al. 2018
    "mingru": Cell(2, recurrent="none", write=0, gates=("keep", "write")),  # z, h~ (Feng et al. 2024)
    "minlstm": Cell(3, recurrent="none", keep=0, write=1, gates=("forget", "input")),  # f, i, h~ (Feng et al.)
}
"""The one list of cells: every task, both ``impl`` where torch.nn has the cell, the probe and the bench read it."""
FUSED = tuple(cell for cell in CELLS if hasattr(nn, cell.upper()))
"""The cells torch.nn implements (cuDNN on a GPU): rnn, gru and lstm."""

State = Tensor | tuple[Tensor, Tensor]
Gates = tuple[Tensor, ...]
"""A step's sigmoid gates, each ``[..., B, H]``, the memory gate first (LSTM: forget, input, output; GRU: update,
reset; Elman: none): what ``ScratchRNN.probe`` records for the gradient-flow callback."""
Step = Callable[[Tensor, Tensor, Tensor | None], tuple[Tensor, Tensor | None, Gates]]
"""A cell's step with its layer's parameters bound: (gi_t, h, c) -> (h, c or None, gates)."""


@dataclass
class Probe:
    """What a driver records while it has a ``probe`` (seqexp.run.gradflow reads it). Per layer and step: the
    hidden states as the recurrence used them, in the autograd graph (their gradients are the total dL/dh_t), and
    the sigmoid gates. Steps are in each direction's reading order: step t of a sequence is real while t < its
    length, and its distance from the sequence's last step is length - 1 - t in both directions."""

    lengths: Tensor | None = None  # [B]
    states: list[list[list[Tensor]]] = field(default_factory=list)  # [layer][t]: one [D, B, H], or D x [B, H]
    gates: list[list[Gates]] = field(default_factory=list)  # [layer][t]: gates, each [D, B, H]


NONLINEARITIES: dict[str, Callable[[Tensor], Tensor]] = {"tanh": torch.tanh, "relu": torch.relu}


def rnn_step(gi: Tensor, h: Tensor, w_hh_t: Tensor, act: Callable[[Tensor], Tensor] = torch.tanh) -> Tensor:
    """Elman step (tanh, or relu as in Le et al. 2015's IRNN); ``gi`` already holds ``W_ih x + b_ih + b_hh``."""
    return act(gi + torch.matmul(h, w_hh_t))  # [..., B, H]


def indrnn_step(gi: Tensor, h: Tensor, u: Tensor) -> Tensor:
    """IndRNN step (Li et al. 2018): ``relu(W x + b + u * h)``, each unit fed back only its own state through its own
    weight ``u [D, 1, H]``, so how long a unit remembers is one number it learns. ``gi`` holds ``W x + b``."""
    return torch.relu(gi + u * h)  # [..., B, H]


def gru_step(gi: Tensor, h: Tensor, w_hh_t: Tensor, b_hh: Tensor) -> tuple[Tensor, Gates]:
    """GRU step with torch.nn's (r, z, n) order; ``gi`` holds ``W_ih x + b_ih``.

    ``b_hh`` is added per step (not folded into ``gi``) because ``b_hn`` sits inside
    the reset gate product: ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``.
    """
    gh = torch.matmul(h, w_hh_t) + b_hh  # [..., B, 3H]
    i_r, i_z, i_n = gi.chunk(3, dim=-1)  # 3 x [..., B, H]
    h_r, h_z, h_n = gh.chunk(3, dim=-1)  # 3 x [..., B, H]
    r = torch.sigmoid(i_r + h_r)  # [..., B, H]
    z = torch.sigmoid(i_z + h_z)  # [..., B, H]
    n = torch.tanh(i_n + r * h_n)  # [..., B, H]
    return n + z * (h - n), (z, r)  # [..., B, H] == (1 - z) * n + z * h


def _lstm_update(gates: Tensor, c: Tensor) -> tuple[Tensor, Tensor, Gates]:
    """Shared LSTM gate math (torch.nn i, f, g, o order); returns (output gate, new cell, gates)."""
    i, f, g, o = (torch.tanh(x) if k == 2 else torch.sigmoid(x) for k, x in enumerate(gates.chunk(4, dim=-1)))
    c_new = f * c + i * g  # [..., B, H]
    return o, c_new, (f, i, o)


def lstm_step(gi: Tensor, h: Tensor, c: Tensor, w_hh_t: Tensor) -> tuple[Tensor, Tensor, Gates]:
    """LSTM step (torch.nn i, f, g, o order); ``gi`` holds ``W_ih x + b_ih + b_hh``."""
    o, c_new, gates = _lstm_update(gi + torch.matmul(h, w_hh_t), c)  # [..., B, H] each
    return o * torch.tanh(c_new), c_new, gates  # [..., B, H], [..., B, H]


def _no_cell(h: Tensor, gates: Gates) -> tuple[Tensor, None, Gates]:
    """A GRU step's result in the (h, c, gates) shape every step returns: a GRU has no cell state."""
    return h, None, gates


def layer_norm(x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
    """LayerNorm over the last dim with explicitly passed (broadcastable) gain and bias.

    Lets both directions share one call while keeping separate per-direction affine
    parameters stacked as ``[D, 1, F]``.
    """
    return F.layer_norm(x, x.shape[-1:], eps=eps) * weight + bias  # same shape as x


def lnlstm_step(
    gi: Tensor,
    h: Tensor,
    c: Tensor,
    w_hh_t: Tensor,
    ln_hh: tuple[Tensor, Tensor],
    ln_c: tuple[Tensor, Tensor],
    eps: float,
) -> tuple[Tensor, Tensor, Gates]:
    """LayerNorm-LSTM step (Ba et al. 2016).

    ``gi`` holds ``LN_ih(W_ih x) + b_ih + b_hh`` (input LN is applied for all steps at
    once outside the loop); here LN is applied to the recurrent projection and to the
    cell state before the output tanh. The carried cell state stays un-normalised.
    """
    gh = layer_norm(torch.matmul(h, w_hh_t), *ln_hh, eps)  # [..., B, 4H]
    o, c_new, gates = _lstm_update(gi + gh, c)  # [..., B, H] each
    return o * torch.tanh(layer_norm(c_new, *ln_c, eps)), c_new, gates  # [..., B, H] x 2


def advance(step: Step, gi: Tensor, h: Tensor, c: Tensor | None, mask: Tensor, keep: Tensor
            ) -> tuple[Tensor, Tensor | None, Tensor]:
    """One time step of a batch: the cell's ``step``, then sequences already ended (``mask`` false) keep their
    state and output zeros. Returns (h, c, output), each ``[D, B, H]``."""
    h_new, c_new, _ = step(gi, h, c)  # [D, B, H] each
    if c is not None:
        c = torch.where(mask, c_new, c)  # [D, B, H]
    return torch.where(mask, h_new, h), c, h_new * keep  # [D, B, H] x 3


@functools.cache
def compiled_advance() -> Callable[..., tuple[Tensor, Tensor | None, Tensor]]:
    """``advance`` through torch.compile (``compile_step=true``): the cell's dozen small element-wise ops, and
    their backward, become a few fused kernels. Compiled on first use (seconds), recompiled once for a new batch
    size, then dynamic in it; each cell's step compiles once per process."""
    return torch.compile(advance, dynamic=None)


class ScratchRNN(nn.Module):
    """Multi-layer (bi)directional recurrence of every built-in cell (``CELLS``), drop-in for torch.nn on
    end-padded input.

    Parameters are named and initialised like ``torch.nn.RNN/GRU/LSTM`` so
    ``load_state_dict(torch_module.state_dict())`` works for rnn/gru/lstm; ``lnlstm``
    adds ``ln_ih_l{k}``, ``ln_hh_l{k}``, ``ln_c_l{k}`` LayerNorm modules (and their
    ``_reverse`` twins); ``indrnn``'s ``weight_hh`` is a vector, bounded in the step to ``|u| <= 2 ** (1 / tmax)``
    (Li et al. 2018: no unit's gradient grows more than 2x over ``tmax`` steps); minGRU and minLSTM have no
    ``*_hh`` parameters and train by ``seqexp.models.scan.min_scan`` (a probe, or one step at a time, runs their
    step instead).
    ``compile_step``: each time step runs through ``compiled_advance``.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        compile_step: bool = False,
        nonlinearity: str = "tanh",
        tmax: int = 100,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"unknown cell {cell!r}; expected one of {sorted(CELLS)}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout must be in [0, 1], got {dropout}")
        if nonlinearity not in NONLINEARITIES or (nonlinearity != "tanh" and cell != "rnn"):
            raise ValueError(f"nonlinearity={nonlinearity!r}: the Elman rnn takes tanh or relu, other cells their own")
        self.cell, self.spec = cell, CELLS[cell]
        self.nonlinearity = nonlinearity
        self.recurrent_bound = 2.0 ** (1.0 / tmax)  # indrnn's
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.num_directions = 2 if bidirectional else 1
        self.dropout = dropout
        self.batch_first = True
        self.compile_step = compile_step
        self.probe: Probe | None = None  # set: forward records states and gates into it

        gates = self.spec.blocks * hidden_size
        hh = {"matrix": (gates, hidden_size), "vector": (hidden_size,), "none": None}[self.spec.recurrent]
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else hidden_size * self.num_directions
            for suffix in self._suffixes():
                name = f"l{layer}{suffix}"
                self.register_parameter(f"weight_ih_{name}", nn.Parameter(torch.empty(gates, layer_in)))
                if hh is not None:
                    self.register_parameter(f"weight_hh_{name}", nn.Parameter(torch.empty(hh)))
                self.register_parameter(f"bias_ih_{name}", nn.Parameter(torch.empty(gates)))
                if hh is not None:
                    self.register_parameter(f"bias_hh_{name}", nn.Parameter(torch.empty(gates)))
                if cell == "lnlstm":
                    self.add_module(f"ln_ih_{name}", nn.LayerNorm(gates))
                    self.add_module(f"ln_hh_{name}", nn.LayerNorm(gates))
                    self.add_module(f"ln_c_{name}", nn.LayerNorm(hidden_size))
        self.reset_parameters()

    def _suffixes(self) -> list[str]:
        return ["", "_reverse"][: self.num_directions]

    def reset_parameters(self) -> None:
        """torch.nn init: every RNN weight/bias ~ U(-1/sqrt(H), 1/sqrt(H)); LN gain 1, bias 0. IndRNN's recurrent
        weights as Li et al. 2018 set them for the adding problem: U(0, bound), and in the top layer
        U(1 / bound, bound), so every top unit starts by keeping at least half its state over ``tmax`` steps."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        top = f"weight_hh_l{self.num_layers - 1}"
        for name, param in self.named_parameters():
            if self.spec.recurrent == "vector" and name.startswith("weight_hh"):
                low = 1.0 / self.recurrent_bound if name.startswith(top) else 0.0
                nn.init.uniform_(param, low, self.recurrent_bound)
            elif not name.startswith("ln_"):
                nn.init.uniform_(param, -bound, bound)
        for module in self.modules():
            if isinstance(module, nn.LayerNorm):
                module.reset_parameters()

    def _stacked(self, kind: str, layer: int) -> Tensor:
        """Stack one parameter kind over directions: ``[D, ...]``."""
        return torch.stack([getattr(self, f"{kind}_l{layer}{s}") for s in self._suffixes()])

    def _stacked_ln(self, kind: str, layer: int) -> tuple[Tensor, Tensor]:
        """Per-direction LayerNorm gain/bias shaped ``[D, 1, F]`` to broadcast over batch."""
        mods = [getattr(self, f"{kind}_l{layer}{s}") for s in self._suffixes()]
        weight = torch.stack([m.weight for m in mods]).unsqueeze(1)  # [D, 1, F]
        bias = torch.stack([m.bias for m in mods]).unsqueeze(1)  # [D, 1, F]
        return weight, bias

    def _initial_state(self, x: Tensor, state: State | None) -> tuple[Tensor, Tensor | None]:
        """Return (h0, c0) as ``[L*D, B, H]``; c0 is None for rnn/gru."""
        is_lstm = self.spec.cell_state
        shape = (self.num_layers * self.num_directions, x.shape[0], self.hidden_size)
        if state is None:
            zeros = x.new_zeros(shape)
            return zeros, (zeros if is_lstm else None)
        if is_lstm:
            if not isinstance(state, tuple) or len(state) != 2:
                raise ValueError(f"{self.cell} expects state=(h0, c0)")
            h0, c0 = state
        else:
            if isinstance(state, tuple):
                raise ValueError(f"{self.cell} expects a single tensor state h0")
            h0, c0 = state, None
        for s in (h0, c0):
            if s is not None and tuple(s.shape) != shape:
                raise ValueError(f"initial state must have shape {shape}, got {tuple(s.shape)}")
        return h0, c0

    def forward(self, x: Tensor, lengths: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """Run all layers over a batch_first, end-padded batch.

        Returns ``(outputs [B, T, D*H], h_n)`` or ``(outputs, (h_n, c_n))`` with torch.nn's
        packed-sequence semantics: padded outputs are zero and final states are taken at
        each sequence's last valid step (step 0 for the reverse direction).
        """
        batch, steps, _ = x.shape
        lengths = lengths.long()  # [B], on x's device already: a copy here would wait for it
        time = torch.arange(steps, device=x.device)  # [T]
        valid = time[:, None] < lengths[None, :]  # [T, B]
        # Per-sequence reversal of the valid prefix; padded positions map to themselves.
        # It is an involution, so the same index reverses and un-reverses.
        rev_idx = torch.where(valid.T, lengths[:, None] - 1 - time[None, :], time[None, :])  # [B, T]
        batch_idx = torch.arange(batch, device=x.device)[:, None]  # [B, 1]
        step_mask = valid[:, None, :, None]  # [T, 1, B, 1] broadcasts over [D, B, H]
        step_keep = step_mask.to(x.dtype)  # [T, 1, B, 1]
        ends = (lengths - 1).clamp(min=0)[None, None, :, None]  # [1, 1, B, 1]: each sequence's last real step

        h0, c0 = self._initial_state(x, state)
        if self.probe is not None:
            self.probe.lengths = lengths
        d = self.num_directions
        h_finals: list[Tensor] = []
        c_finals: list[Tensor] = []
        layer_in = x  # [B, T, in]
        for layer in range(self.num_layers):
            h = h0[layer * d : (layer + 1) * d]  # [D, B, H]
            c = c0[layer * d : (layer + 1) * d] if c0 is not None else None  # [D, B, H]
            out, h, c = self._run_layer(layer, layer_in, h, c, step_mask, step_keep, rev_idx, batch_idx, ends)
            h_finals.append(h)
            if c is not None:
                c_finals.append(c)
            last = layer == self.num_layers - 1
            layer_in = out if last else F.dropout(out, self.dropout, self.training)  # [B, T, D*H]

        h_n = torch.cat(h_finals, dim=0)  # [L*D, B, H]
        if c_finals:
            return layer_in, (h_n, torch.cat(c_finals, dim=0))  # c_n: [L*D, B, H]
        return layer_in, h_n

    def _step_fn(self, layer: int) -> Step:
        """Bind this layer's recurrent parameters to the cell's step: (gi_t, h, c) -> (h, c, gates)."""
        if self.spec.scan:
            return lambda gi, h, c: _no_cell(*min_step(self.cell, gi, h))
        w_hh = self._stacked("weight_hh", layer)  # [D, G, H], or [D, H] for indrnn
        if self.cell == "indrnn":
            u = w_hh.clamp(-self.recurrent_bound, self.recurrent_bound)[:, None, :]  # [D, 1, H]
            return lambda gi, h, c: (indrnn_step(gi, h, u), None, ())
        w_hh_t = w_hh.transpose(1, 2)  # [D, H, G]
        if self.cell == "rnn":
            act = NONLINEARITIES[self.nonlinearity]
            return lambda gi, h, c: (rnn_step(gi, h, w_hh_t, act), None, ())
        if self.cell == "gru":
            b_hh = self._stacked("bias_hh", layer)  # [D, 3H]
            b_hn = b_hh[:, None, :]  # [D, 1, 3H]
            return lambda gi, h, c: _no_cell(*gru_step(gi, h, w_hh_t, b_hn))
        if self.cell == "lstm":
            return lambda gi, h, c: lstm_step(gi, h, c, w_hh_t)
        eps = getattr(self, f"ln_hh_l{layer}").eps
        ln_hh = self._stacked_ln("ln_hh", layer)  # 2 x [D, 1, 4H]
        ln_c = self._stacked_ln("ln_c", layer)  # 2 x [D, 1, H]
        return lambda gi, h, c: lnlstm_step(gi, h, c, w_hh_t, ln_hh, ln_c, eps)

    def _run_layer(
        self,
        layer: int,
        x: Tensor,
        h: Tensor,
        c: Tensor | None,
        step_mask: Tensor,
        step_keep: Tensor,
        rev_idx: Tensor,
        batch_idx: Tensor,
        ends: Tensor,
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """One layer, both directions at once; returns (outputs [B, T, D*H], h [D, B, H], c)."""
        batch, steps, _ = x.shape
        d = self.num_directions
        w_ih = self._stacked("weight_ih", layer)  # [D, G, in]
        bias = self._stacked("bias_ih", layer)  # [D, G]
        if self.spec.recurrent != "none" and self.cell != "gru":  # GRU's b_hn is gated by r: added per step
            bias = bias + self._stacked("bias_hh", layer)  # [D, G]
        gates = w_ih.shape[1]

        # Input projection of every step and direction in one matmul.
        gi = x.reshape(batch * steps, -1) @ w_ih.reshape(d * gates, -1).T  # [B*T, D*G]
        gi = gi.view(batch, steps, d, gates)  # [B, T, D, G]
        if d == 2:
            gi = torch.stack((gi[:, :, 0], gi[batch_idx, rev_idx, 1]), dim=2)  # [B, T, 2, G]
        gi = gi.permute(1, 2, 0, 3).contiguous()  # [T, D, B, G]; contiguous per-step slices

        if self.cell == "lnlstm":
            eps = getattr(self, f"ln_ih_l{layer}").eps
            gi = layer_norm(gi, *self._stacked_ln("ln_ih", layer), eps)  # [T, D, B, G]
        gi = gi + bias[:, None, :]  # [T, D, B, G]
        probe = self.probe
        if self.spec.scan and probe is None and steps > 1:
            states = min_scan(self.cell, gi, h, step_mask)  # [T, D, B, H]
            h = states.gather(0, ends.expand(1, *h.shape))[0]  # [D, B, H]: at each sequence's last real step
            out = (states * step_keep).permute(1, 2, 0, 3)  # [D, B, T, H]; zeros at padded steps
        else:
            out, h, c = self._loop(layer, gi, h, c, step_mask, step_keep)  # [D, B, T, H]
        if d == 2:
            out = torch.cat((out[0], out[1][batch_idx, rev_idx]), dim=-1)  # [B, T, 2H]
        else:
            out = out[0]  # [B, T, H]
        return out, h, c

    def _loop(self, layer: int, gi: Tensor, h: Tensor, c: Tensor | None, step_mask: Tensor, step_keep: Tensor
              ) -> tuple[Tensor, Tensor, Tensor | None]:
        """The recurrence one step at a time over ``gi [T, D, B, G]``: (outputs [D, B, T, H], h, c)."""
        step = self._step_fn(layer)
        probe = self.probe
        if probe is not None:
            probe.states.append([])
            probe.gates.append([])
            step = self._probed(step, probe)
        run = compiled_advance() if self.compile_step and probe is None else advance
        outputs: list[Tensor] = []
        for t in range(gi.size(0)):
            h, c, out_t = run(step, gi[t], h, c, step_mask[t], step_keep[t])  # [D, B, H] each; c: LSTMs' only
            outputs.append(out_t)  # [D, B, H]; zeros at padded steps
        return torch.stack(outputs, dim=2), h, c  # [D, B, T, H]

    @staticmethod
    def _probed(step: Step, probe: Probe) -> Step:
        """``step`` that also records its new state and its gates into ``probe``'s current layer."""
        def recorded(gi: Tensor, h: Tensor, c: Tensor | None) -> tuple[Tensor, Tensor | None, Gates]:
            h_new, c_new, gates = step(gi, h, c)
            probe.states[-1].append([h_new])
            probe.gates[-1].append(tuple(g.detach() for g in gates))
            return h_new, c_new, gates
        return recorded
