"""Timing one training loop against another on the same batches: a plain PyTorch loop and a Lightning Trainer
built from the run's config, each on a freshly built model with the same seed."""

import time
from collections.abc import Iterable

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader

from seqexp.data.batch import to_device
from seqexp.run.build import build_model, build_trainer
from seqexp.run.callbacks import StepSeed


def first_batches(data, n: int) -> list[dict[str, torch.Tensor]]:
    """The first ``n`` batches of the train loader (next epochs' batches if one epoch has fewer)."""
    loader, batches, epoch = data.train_dataloader(), [], 0
    while len(batches) < n:
        if hasattr(loader.batch_sampler, "set_epoch"):
            loader.batch_sampler.set_epoch(epoch)
        before = len(batches)
        for batch in loader:
            batches.append(batch)
            if len(batches) == n:
                break
        if len(batches) == before:
            raise RuntimeError("the train loader yields no batches")
        epoch += 1
    return batches


def batch_tokens(batches: Iterable[dict[str, torch.Tensor]]) -> tuple[int, int]:
    """(real tokens = sum of lengths, padded positions = batch size x longest) of these batches."""
    real = padded = 0
    for b in batches:
        real += int(b["lengths"].sum())
        padded += b["lengths"].numel() * int(b["lengths"].max())
    return real, padded


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _Clock(pl.Callback):
    """Wall time from the end of the last warm-up batch to the end of the last batch: ``steps`` full iterations,
    data fetching, hooks, logging and the optimizer step included."""

    def __init__(self, warmup: int, total: int):
        self.warmup, self.total = warmup, total
        self.start = self.end = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if batch_idx in (self.warmup - 1, self.total - 1):
            sync(pl_module.device)
            now = time.perf_counter()
            if batch_idx == self.warmup - 1:
                self.start = now
            if batch_idx == self.total - 1:
                self.end = now


def _loader(batches: list[dict[str, torch.Tensor]]) -> DataLoader:
    """Pre-made batches, as they are, in order (``batch_size=None``: no re-batching, no collation)."""
    return DataLoader(batches, batch_size=None, shuffle=False)


class _Premade(pl.LightningDataModule):
    """Pre-made batches, moved to the device as a run's data module moves them (host copies of lengths)."""

    def __init__(self, batches: list[dict[str, torch.Tensor]]):
        super().__init__()
        self.batches = batches

    def train_dataloader(self) -> DataLoader:
        return _loader(self.batches)

    def transfer_batch_to_device(self, batch: dict, device: torch.device, dataloader_idx: int) -> dict:
        return to_device(batch, device)


def trainer(cfg: DictConfig, total: int, callbacks: list, root: str) -> pl.Trainer:
    """The configured trainer minus what is not training: no logger, checkpoints, progress bar, validation."""
    return build_trainer(cfg, callbacks=callbacks, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, max_steps=total, max_epochs=-1,
                         limit_val_batches=0, num_sanity_val_steps=0, default_root_dir=root)


def fresh_model(cfg: DictConfig, data) -> pl.LightningModule:
    """The head as a run builds it, after seeding as a run does: the same seed, the same initial weights."""
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    return build_model(cfg, data)


def run_seqexp(cfg: DictConfig, data, batches: list, warmup: int, root: str) -> float:
    """Seconds for the timed steps of ``Trainer.fit`` (the run's default callbacks that train: StepSeed)."""
    model = fresh_model(cfg, data)
    clock = _Clock(warmup, len(batches))
    fit = trainer(cfg, len(batches), [StepSeed(cfg.seed), clock], root)
    fit.fit(model, datamodule=_Premade(batches))
    if clock.start is None or clock.end is None:
        raise RuntimeError(f"the trainer ran {fit.global_step} of {len(batches)} steps")
    return clock.end - clock.start


def run_plain(cfg: DictConfig, data, batches: list, warmup: int, device: torch.device) -> float:
    """Seconds for the timed steps of the hand-written loop over the same model, batches and optimizer."""
    model = fresh_model(cfg, data).to(device)
    model.train()
    optimizer = model.configure_optimizers()
    if isinstance(optimizer, dict):
        optimizer = optimizer["optimizer"]
    params = [p for group in optimizer.param_groups for p in group["params"]]
    clip = cfg.trainer.get("gradient_clip_val")
    clip_by = (torch.nn.utils.clip_grad_value_ if cfg.trainer.get("gradient_clip_algorithm") == "value"
               else torch.nn.utils.clip_grad_norm_)  # Lightning's default: norm
    start = None
    for i, batch in enumerate(_loader(batches)):
        batch = to_device(batch, device)  # as Lightning moves it (SeqDataModule.transfer_batch_to_device)
        loss = model.step(batch, "train")[0]
        loss.backward()
        if clip:
            clip_by(params, clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if i == warmup - 1:
            sync(device)
            start = time.perf_counter()
    sync(device)
    return time.perf_counter() - start
