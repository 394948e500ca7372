"""Gradient flow through time, measured on real training: how much of the loss's gradient reaches each time step.

A vanilla RNN's dL/dh_t shrinks geometrically with the distance from the loss (Bengio et al. 1994); gated cells
learn to keep it (an LSTM's forget gate near 1). ``callbacks.grad_flow.every_n_steps=N`` measures it on the
training batch at step 0 and every N steps; ``python -m seqexp.report`` overlays the runs of a sweep.
"""

import csv
import math
from pathlib import Path
from typing import Annotated

import pytorch_lightning as pl
import torch
from torch import Tensor

from seqexp.constraints import NonNegative
from seqexp.models.recurrence import CELLS, Probe
from seqexp.plots.figures import GRAD_FLOW_COLUMNS, grad_flow
from seqexp.run.rundir import RunDir


def step_norms(probe: Probe, grads: list[Tensor | None]) -> list[Tensor]:
    """Per layer, the mean over the batch of ``||dL/dh_t||`` by distance from each sequence's last step:
    ``[D, T]`` (distance 0 first; NaN where no sequence is that long). ``grads`` follow ``probe.states`` flattened
    (None: the loss does not depend on that state)."""
    lengths = probe.lengths  # [B]
    it = iter(grads)
    per_layer = []
    for layer in probe.states:
        norms = []
        for states in layer:  # one step: [D, B, H], or D x [B, H]
            parts = [torch.zeros_like(s) if g is None else g for s, g in zip(states, (next(it) for _ in states),
                                                                               strict=True)]
            batch, hidden = parts[0].shape[-2:]
            norms.append(torch.cat([p.reshape(-1, batch, hidden) for p in parts]).norm(dim=-1))  # [D, B]
        norms = torch.stack(norms, dim=1)  # [D, T, B]
        steps = norms.size(1)
        time = torch.arange(steps, device=lengths.device)[:, None]  # [T, 1]
        valid = (time < lengths[None, :]).to(norms.dtype)  # [T, B]
        distance = (lengths[None, :] - 1 - time).clamp(min=0).expand(steps, -1)  # [T, B]
        sums = norms.new_zeros(norms.size(0), steps).index_add_(1, distance.flatten(),
                                                                 (norms * valid).flatten(1))  # [D, T]
        counts = norms.new_zeros(steps).index_add_(0, distance.flatten(), valid.flatten())  # [T]
        per_layer.append(sums / counts)  # [D, T]; 0 / 0 = NaN beyond the longest sequence
    return per_layer


def gate_stats(probe: Probe) -> list[tuple[float, float] | None]:
    """Per layer, over real steps: (share of sigmoid gate values < 0.1 or > 0.9, mean of the memory gate: LSTM
    forget, GRU update); None for cells whose gates are not recorded (Elman, your own cells)."""
    stats = []
    for layer in probe.gates:
        if not layer or not layer[0]:
            stats.append(None)
            continue
        valid = torch.arange(len(layer), device=probe.lengths.device)[:, None] < probe.lengths[None, :]  # [T, B]
        gates = torch.stack([torch.stack(step) for step in layer])  # [T, G, D, B, H]
        keep = valid[:, None, None, :, None].expand_as(gates)  # [T, G, D, B, H]
        values = gates[keep]  # real steps' gate values
        memory = gates[:, 0][keep[:, 0]]
        saturated = ((values < 0.1) | (values > 0.9)).float().mean()
        stats.append((saturated.item(), memory.mean().item()))
    return stats


def measure(pl_module: pl.LightningModule, batch: dict[str, Tensor]) -> tuple[list[Tensor], list]:
    """A forward and backward pass of the head's training loss on ``batch`` that touches neither the parameters'
    gradients nor the RNG stream training draws from: (``step_norms``, ``gate_stats``)."""
    carried = dict(getattr(pl_module, "states", {}))  # task=lm carries its state across windows: keep it as it was
    devices = [pl_module.device] if pl_module.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.enable_grad(), pl_module.encoder.probed() as probe:
        loss, _, _ = pl_module.step(batch, "train")
        flat = [s for layer in probe.states for step in layer for s in step]
        grads = torch.autograd.grad(loss, flat, allow_unused=True)
    if carried:
        pl_module.states.update(carried)
    return step_norms(probe, list(grads)), gate_stats(probe)


class GradFlow(pl.Callback):
    """At step 0 and every ``every_n_steps`` (0: off), on that step's training batch before the update: the norm of
    dL/dh_t per time step, layer and direction, and for gated built-in cells the gate saturation and memory gate
    mean. Writes ``grad_flow.csv`` and ``grad_flow.png`` (norm by distance from the last step, log scale) in the run
    dir and logs ``grad_flow/*`` scalars to the run's loggers (the run page shows the figure and logs it as an
    image). Works with either ``impl`` (cuDNN: measured by a scratch copy with the same weights); gates are read
    from the built-in cells only."""

    def __init__(self, every_n_steps: Annotated[int, NonNegative] = 0):
        self.every = every_n_steps
        self.rows: list[list[float]] = []  # GRAD_FLOW_COLUMNS; kept in checkpoints, so a resumed run's files stay whole

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx: int) -> None:
        step = trainer.global_step
        if not self.every or step % self.every or not trainer.is_global_zero:
            return
        if self.rows and self.rows[-1][0] >= step:  # resumed onto a step measured before the interrupt
            return
        norms, gates = measure(pl_module, batch)
        scalars = {}
        for layer, by_distance in enumerate(norms):
            for direction, curve in enumerate(by_distance.tolist()):
                self.rows += [[step, layer, direction, d, n] for d, n in enumerate(curve) if not math.isnan(n)]
            curve = by_distance[0][~by_distance[0].isnan()]  # the forward direction's
            scalars[f"grad_flow/l{layer}_last"] = curve[0].item()
            scalars[f"grad_flow/l{layer}_first"] = curve[-1].item()
            scalars[f"grad_flow/l{layer}_log10_ratio"] = (curve[-1] / curve[0]).log10().item()
        cell = pl_module.hparams.encoder["cell"]
        for layer, stats in enumerate(gates):
            if stats is not None:
                scalars[f"grad_flow/l{layer}_saturated"] = stats[0]
                scalars[f"grad_flow/l{layer}_{CELLS[cell].gates[0]}_gate"] = stats[1]  # stats: built-in cells
        for logger in trainer.loggers:
            logger.log_metrics(scalars, step=step)
        self.write(RunDir(Path(trainer.default_root_dir)))

    def write(self, run: RunDir) -> None:
        with run.grad_flow.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(GRAD_FLOW_COLUMNS)
            writer.writerows(self.rows)
        grad_flow(self.rows).savefig(run.path / "grad_flow.png")

    def state_dict(self) -> dict:
        return {"rows": self.rows}

    def load_state_dict(self, state_dict: dict) -> None:
        self.rows = [list(r) for r in state_dict["rows"]]
