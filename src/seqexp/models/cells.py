"""``impl: scratch``: every built-in cell (``CELLS``) written out, one time step of both directions per batched
matmul, numerically interchangeable with ``torch.nn.RNN/GRU/LSTM`` (same parameter names, shapes, init, gate order
and packed-sequence semantics, so checkpoints load in both directions) and the home of the cells torch.nn lacks
(LayerNorm-LSTM, IndRNN, minGRU, minLSTM). ``seqexp.models.recurrence.Recurrence`` drives the layers.

Layout: ``D`` directions are stacked on a leading axis (``[D, B, ...]``); the reverse direction works on
per-sequence time-reversed data (``Frame.reverse``), so its real steps are ``t < lengths`` as the forward one's.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from seqexp.models.recurrence import CELLS, Frame, Gates, Probe, Recurrence, State, Step
from seqexp.models.scan import min_scan, min_step
from seqexp.models.steps import (
    NONLINEARITIES,
    gru_step,
    indrnn_step,
    layer_norm,
    lnlstm_step,
    lstm_step,
    no_cell,
    rnn_step,
)


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


class ScratchRNN(Recurrence):
    """Multi-layer (bi)directional recurrence of every built-in cell (``CELLS``), drop-in for torch.nn on
    end-padded input: ``forward(x, lengths, state) -> (outputs, h_n)`` or ``(outputs, (h_n, c_n))``.

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
        if cell not in CELLS:
            raise ValueError(f"unknown cell {cell!r}; expected one of {sorted(CELLS)}")
        if nonlinearity not in NONLINEARITIES or (nonlinearity != "tanh" and cell != "rnn"):
            raise ValueError(f"nonlinearity={nonlinearity!r}: the Elman rnn takes tanh or relu, other cells their own")
        super().__init__(input_size, hidden_size, num_layers, bidirectional, dropout)
        self.cell, self.spec = cell, CELLS[cell]
        self.nonlinearity = nonlinearity
        self.recurrent_bound = 2.0 ** (1.0 / tmax)  # indrnn's
        self.compile_step = compile_step

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

    def initial(self, x: Tensor, state: State | None) -> list[tuple[Tensor, Tensor | None]]:
        """Each layer's (h0 [D, B, H], c0 or None) from torch.nn's ``h0`` or ``(h0, c0)``, each ``[L*D, B, H]``."""
        is_lstm = self.spec.cell_state
        shape = (self.num_layers * self.num_directions, x.shape[0], self.hidden_size)
        if state is None:
            zeros = x.new_zeros(shape)
            h0, c0 = zeros, (zeros if is_lstm else None)
        elif is_lstm:
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
        d = self.num_directions
        return [(h0[k * d : (k + 1) * d], None if c0 is None else c0[k * d : (k + 1) * d])
                for k in range(self.num_layers)]  # [D, B, H] each

    def final(self, finals: list[tuple[Tensor, Tensor | None]]) -> State:
        """torch.nn's ``h_n`` or ``(h_n, c_n)``, each ``[L*D, B, H]``."""
        h_n = torch.cat([h for h, _ in finals])  # [L*D, B, H]
        return (h_n, torch.cat([c for _, c in finals])) if self.spec.cell_state else h_n

    def _step_fn(self, layer: int) -> Step:
        """Bind this layer's recurrent parameters to the cell's step: (gi_t, h, c) -> (h, c, gates)."""
        if self.spec.scan:
            return lambda gi, h, c: no_cell(*min_step(self.cell, gi, h))
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
            return lambda gi, h, c: no_cell(*gru_step(gi, h, w_hh_t, b_hn))
        if self.cell == "lstm":
            return lambda gi, h, c: lstm_step(gi, h, c, w_hh_t)
        eps = getattr(self, f"ln_hh_l{layer}").eps
        gain_hh = self._stacked_ln("ln_hh", layer)[0]  # [D, 1, 4H]; its bias is in gi (``layer``)
        ln_c = self._stacked_ln("ln_c", layer)  # 2 x [D, 1, H]
        return lambda gi, h, c: lnlstm_step(gi, h, c, w_hh_t, gain_hh, ln_c, eps)

    def layer(self, layer: int, x: Tensor, start: tuple[Tensor, Tensor | None], frame: Frame
              ) -> tuple[Tensor, tuple[Tensor, Tensor | None]]:
        """One layer, both directions at once: (outputs [B, T, D*H], (h [D, B, H], c))."""
        h, c = start
        batch, steps, _ = x.shape
        d = self.num_directions
        w_ih = self._stacked("weight_ih", layer)  # [D, G, in]
        bias = self._stacked("bias_ih", layer)  # [D, G]
        if self.spec.recurrent != "none" and self.cell != "gru":  # GRU's b_hn is gated by r: added per step
            bias = bias + self._stacked("bias_hh", layer)  # [D, G]
        gates = w_ih.shape[1]

        # Input projection of every step and direction in one matmul, the bias added in it (LayerNorm-LSTM's after
        # its norm).
        x_2d, w_2d = x.reshape(batch * steps, -1), w_ih.reshape(d * gates, -1).T  # [B*T, in], [in, D*G]
        gi = x_2d @ w_2d if self.cell == "lnlstm" else torch.addmm(bias.reshape(-1), x_2d, w_2d)  # [B*T, D*G]
        gi = gi.view(batch, steps, d, gates)  # [B, T, D, G]
        if d == 2:
            gi = torch.stack((gi[:, :, 0], frame.reverse(gi[:, :, 1])), dim=2)  # [B, T, 2, G]

        if self.spec.scan and self.probe is None and steps > 1:
            real = frame.valid.T[:, :, None, None].to(x.dtype)  # [B, T, 1, 1]
            states = min_scan(self.cell, gi, h, real)  # [B, T, D, H], in gi's layout: no transposes
            h = states[:, -1].transpose(0, 1)  # [D, B, H]: padding never changes a state, so the last step holds it
            outs = (states * real).unbind(2)  # D x [B, T, H]; zeros at padded steps
        else:
            gi = gi.permute(1, 2, 0, 3)  # [T, D, B, G], a view: the loop lays it out as it reads it
            if self.cell == "lnlstm":  # biases constant over steps, in one
                gain_ih, bias_ih = self._stacked_ln("ln_ih", layer)  # [D, 1, G] each
                bias = bias_ih + bias[:, None, :] + self._stacked_ln("ln_hh", layer)[1]  # [D, 1, G]
                gi = layer_norm(gi, gain_ih, bias, getattr(self, f"ln_ih_l{layer}").eps)  # [T, D, B, G]
            step_mask = frame.valid[:, None, :, None]  # [T, 1, B, 1] broadcasts over [D, B, H]
            out, h, c = self._loop(layer, gi, h, c, step_mask, step_mask.to(x.dtype))  # [D, B, T, H]
            outs = out.unbind(0)  # D x [B, T, H]
        if d == 2:
            return torch.cat((outs[0], frame.reverse(outs[1])), dim=-1), (h, c)  # [B, T, 2H]
        return outs[0], (h, c)  # [B, T, H]

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
        # unbind, not gi[t]: indexing's backward writes each step's gradient into a zero tensor of gi's whole size
        # (quadratic in T: a 512-step GRU's forward and backward took 4.7 s, 0.7 s with unbind; one thread)
        steps = zip(gi.contiguous().unbind(0), step_mask.unbind(0), step_keep.unbind(0), strict=True)
        for gi_t, mask_t, keep_t in steps:
            h, c, out_t = run(step, gi_t, h, c, mask_t, keep_t)  # [D, B, H] each; c: LSTMs' only
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
