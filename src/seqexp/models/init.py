"""Initialisations that decide how long a recurrent network remembers before it has learned anything
(``model.init``), applied by parameter name, so the same draw lands on torch.nn's layers and on ours alike.

- ``default``: torch.nn's U(-1/sqrt(H), 1/sqrt(H)) (IndRNN: ``ScratchRNN.reset_parameters``, after Li et al.).
- ``chrono`` (Tallec & Ollivier 2018): the gate that keeps the state gets bias ``log U[1, T_max - 1]`` and the gate
  that overwrites it the negative (LSTM: forget and input; GRU: update; minGRU: z; minLSTM: f and i), so the
  units' memory spans are spread over 1..T_max steps from the start instead of all being ~2.
- ``orthogonal``: every recurrent block ``W_hh`` orthogonal times ``gain`` (Saxe et al. 2014): its singular values
  are all ``gain``, so with gain 1 no direction of the state shrinks or grows through the matrix.
- ``identity``: every recurrent block ``gain * I`` and the biases 0; with ``model.nonlinearity=relu`` on the
  Elman rnn this is Le et al. 2015's IRNN (an IndRNN's weights become ``gain``).
"""

import re

import torch
from torch import nn

from seqexp.errors import ConfigError
from seqexp.models.recurrence import CELLS

INITS = ("default", "chrono", "orthogonal", "identity")
_RNN_PARAM = re.compile(r"(weight|bias)_(ih|hh)_l\d+(_reverse)?")


def check(cell: str, init: str, tmax: int) -> None:
    """Refuse, naming the config key, an initialisation the cell has nothing to apply it to."""
    if init not in INITS:
        raise ConfigError(f"model.init: unknown {init!r} (expected one of {', '.join(INITS)})")
    spec = CELLS.get(cell)
    if init == "default":
        return
    if spec is None:
        raise ConfigError(f"model.init={init}: your own cell initialises itself (model.init=default)")
    if init == "chrono" and spec.keep is None and spec.write is None:
        raise ConfigError(f"model.init=chrono sets gate biases: model.cell={cell} has no gates")
    if init == "chrono" and tmax < 3:
        raise ConfigError(f"model.init_tmax={tmax}: chrono draws from log U[1, T_max - 1], so T_max must be >= 3")
    if init in ("orthogonal", "identity") and spec.recurrent == "none":
        raise ConfigError(f"model.init={init} sets recurrent weights: model.cell={cell} has none (its gates read "
                          "the input only)")
    if init == "orthogonal" and spec.recurrent == "vector":
        raise ConfigError(f"model.init=orthogonal: model.cell={cell}'s recurrent weights are one per unit "
                          "(model.init=identity sets them to the gain)")


@torch.no_grad()
def initialise(rnn: nn.Module, cell: str, init: str = "default", tmax: int = 100, gain: float = 1.0) -> None:
    """Apply ``init`` to ``rnn``'s ``weight_hh``/``bias_*`` parameters in their registration order (torch.nn's and
    ``ScratchRNN``'s are the same), drawing from torch's generator: one seed, one set of weights, either impl."""
    check(cell, init, tmax)
    if init == "default":
        return
    spec = CELLS[cell]
    for name, param in rnn.named_parameters():
        match = _RNN_PARAM.fullmatch(name)
        if match is None:
            continue
        kind, source = match.group(1), match.group(2)
        if kind == "bias" and init == "chrono":
            blocks = param.view(spec.blocks, -1)  # [blocks, H]
            span = torch.log(torch.empty_like(blocks[0]).uniform_(1.0, tmax - 1.0))  # [H]
            for block, sign in ((spec.keep, 1.0), (spec.write, -1.0)):
                if block is not None:  # the sum of both biases is what a gate sees: put it all in bias_ih
                    blocks[block] = sign * span if source == "ih" else 0.0
        elif kind == "bias" and init == "identity":
            param.zero_()
        elif kind == "weight" and source == "hh" and init == "identity":
            if param.dim() == 1:  # IndRNN
                param.fill_(gain)
            else:
                for block in param.view(spec.blocks, -1, param.size(1)):  # [H, H] each
                    block.copy_(gain * torch.eye(param.size(1)))
        elif kind == "weight" and source == "hh" and init == "orthogonal":
            for block in param.view(spec.blocks, -1, param.size(1)):
                nn.init.orthogonal_(block, gain)
