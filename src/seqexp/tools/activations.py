"""What a trained encoder computes on a sentence: each hidden unit's value and, for gated cells, each gate's, token
by token (Karpathy et al. 2015 found quote- and line-length-tracking cells this way), read through the encoder's
probe (``Encoder.probed``: the built-in cells' steps, whichever ``impl`` trained them)."""

from dataclasses import dataclass

import numpy as np
import torch

from seqexp.models.recurrence import CELLS
from seqexp.tasks.base import SeqTask


@dataclass
class Activations:
    """One sentence: ``maps[layer][name]`` is ``[D*H, T]`` (``hidden`` and each gate's name), rows labelled by
    ``units`` (``12``, or ``>12``/``<12`` per direction), columns by ``words``."""

    words: list[str]
    units: list[str]
    maps: list[dict[str, np.ndarray]]


@torch.no_grad()
def activations(model: SeqTask, text: str) -> Activations:
    """Run the model's encoder over ``text`` (tokenised as in training) in eval mode and read its probe."""
    training = model.training
    model.eval()
    try:
        batch, words = model.batch_from_texts([text])
        with model.encoder.probed() as probe:
            model.encode(batch)
    finally:
        model.train(training)
    directions = model.encoder.directions
    hidden = model.encoder.output_size // directions
    names = CELLS[model.hparams.encoder["cell"]].gates if model.hparams.encoder["cell"] in CELLS else ()
    maps = []
    for states, gates in zip(probe.states, probe.gates, strict=True):
        layer = {"hidden": _by_unit([torch.cat([s.reshape(-1, 1, hidden) for s in step]) for step in states])}
        for g, name in enumerate(names if gates and gates[0] else ()):
            layer[name] = _by_unit([step[g] for step in gates])
        maps.append(layer)
    arrows = ("",) if directions == 1 else (">", "<")
    return Activations(words[0], [f"{arrow}{u}" for arrow in arrows for u in range(hidden)], maps)


def _by_unit(steps: list[torch.Tensor]) -> np.ndarray:
    """Per step ``[D, 1, H]`` in each direction's reading order -> ``[D*H, T]`` in the sentence's order."""
    values = torch.stack(steps)[:, :, 0]  # [T, D, H]
    if values.size(1) == 2:  # the reverse direction read the last word first
        values = torch.stack([values[:, 0], values[:, 1].flip(0)], dim=1)  # [T, D, H]
    return values.flatten(1).T.float().cpu().numpy()  # [D*H, T]


def selective(sentences: list[Activations], layer: int, name: str, count: int) -> list[int]:
    """The ``count`` units whose value varies most over the tokens of all ``sentences`` (the highest standard
    deviation): the ones that respond to what they read, first."""
    values = np.concatenate([s.maps[layer][name] for s in sentences], axis=1)  # [D*H, sum T]
    return np.argsort(-values.std(axis=1), kind="stable")[:count].tolist()
