"""Callbacks the default config adds to every run."""

import pytorch_lightning as pl
from lightning_fabric.utilities.seed import seed_everything


class EpochSeed(pl.Callback):
    """Reseed at every epoch from (seed, epoch): a resumed run then draws the same dropout masks and batch
    order as a run that was never stopped, so both end with the same metrics."""

    def __init__(self, seed: int):
        self.seed = seed

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        seed_everything(self.seed * 1000 + trainer.current_epoch, verbose=False)
