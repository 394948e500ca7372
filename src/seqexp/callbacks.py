"""Callbacks the default config adds to every run."""

import pytorch_lightning as pl
import torch


class StepSeed(pl.Callback):
    """Reseed torch's RNG before every training step from (seed, global step): dropout masks then depend on
    nothing else, so a run resumed from a checkpoint ends with the same metrics as one never stopped (data
    loaders, sanity checks and restores draw from the RNG at different moments in the two)."""

    def __init__(self, seed: int):
        self.seed = seed

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx: int) -> None:
        torch.manual_seed(self.seed * 1_000_003 + trainer.global_step)


class GradNorm(pl.Callback):
    """Logs ``train/grad_norm``, the global L2 norm of the gradients before clipping: spikes show instability
    long before the loss does."""

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer) -> None:
        grads = [p.grad for p in pl_module.parameters() if p.grad is not None]
        if grads:
            norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
            pl_module.log("train/grad_norm", norm, on_step=True, on_epoch=False)
