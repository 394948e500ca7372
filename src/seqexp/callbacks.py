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
