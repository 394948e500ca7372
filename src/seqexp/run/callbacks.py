"""Callbacks the default config adds to every run."""

import logging
import signal
import threading
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.model_summary import get_human_readable_count

from seqexp.errors import Diverged, Interrupted
from seqexp.tasks.base import writes_logs

log = logging.getLogger("seqexp.train")


class StepSeed(pl.Callback):
    """Reseed torch's RNG before every training step from (seed, global step): dropout masks then depend on
    nothing else, so a run resumed from a checkpoint ends with the same metrics as one never stopped (data
    loaders, sanity checks and restores draw from the RNG at different moments in the two). DDP ranks get
    different masks."""

    def __init__(self, seed: int):
        self.seed = seed

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx: int) -> None:
        seed = self.seed * 1_000_003 + trainer.global_step + trainer.global_rank * 7_919
        # torch.manual_seed would also visit every accelerator's generators: ~60x the cost of these two
        torch.default_generator.manual_seed(seed)
        if pl_module.device.type == "cuda":
            torch.cuda.default_generators[pl_module.device.index or 0].manual_seed(seed)


class GradNorm(pl.Callback):
    """Logs ``train/grad_norm``, the global L2 norm of the gradients before clipping, on the steps Lightning
    writes: spikes show instability long before the loss does."""

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer) -> None:
        if not writes_logs(trainer):
            return
        grads = [p.grad for p in pl_module.parameters() if p.grad is not None]
        if grads:
            norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
            pl_module.log("train/grad_norm", norm, on_step=True, on_epoch=False)


class StopOnNonFinite(pl.Callback):
    """Stops the run at a NaN or inf training loss, before any checkpoint stores the broken weights, so the
    newest checkpoint stays the last good one. The flag lives on the device: steps never wait for the host
    except every ``check_every`` steps and before validation (which precedes checkpointing)."""

    def __init__(self, check_every: int = 20):
        self.check_every = check_every
        self.bad: torch.Tensor | None = None  # [] bool: some loss since the last check was not finite

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch,
                           batch_idx: int) -> None:
        finite = torch.isfinite(outputs["loss"].detach())
        self.bad = ~finite if self.bad is None else self.bad | ~finite
        if (batch_idx + 1) % self.check_every == 0:
            self._check(trainer)

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._check(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._check(trainer)

    def _check(self, trainer: pl.Trainer) -> None:
        # any rank: under DDP a rank that stopped alone would leave the others waiting in the next all-reduce
        if self.bad is None or not trainer.strategy.reduce_boolean_decision(bool(self.bad.item()), all=False):
            return
        lr = trainer.optimizers[0].param_groups[0]["lr"]
        kept = trainer.checkpoint_callback.last_model_path if trainer.checkpoint_callback else ""
        raise Diverged(f"training diverged: the loss became NaN or inf by epoch {trainer.current_epoch}, step "
                       f"{trainer.global_step} (optimizer.lr={lr:g}); the last good checkpoint is "
                       f"{kept or 'none: it diverged in the first epoch'}. Lower optimizer.lr or "
                       "trainer.gradient_clip_val and rerun")


class ModelSummary(pl.callbacks.ModelSummary):
    """Lightning's table of layers and parameters, without its FLOPs column and total: torch's FLOP counter does
    not count recurrent layers, so they read 0 for every model here."""

    @staticmethod
    def summarize(summary_data: list[tuple[str, list[str]]], total_parameters: int, trainable_parameters: int,
                  model_size: float, total_training_modes: dict[str, int], total_flops: int, **kwargs) -> None:
        columns = [(name, values) for name, values in summary_data if name in ("Name", "Type", "Params")]
        keep = [i for i, params in enumerate(dict(columns)["Params"]) if params.strip() != "0"]  # not dropouts, metrics
        columns = [(name, [values[i] for i in keep]) for name, values in columns]
        widths = [max(len(name), *(len(str(v)) for v in values)) for name, values in columns]
        rows = [[name for name, _ in columns], *zip(*(values for _, values in columns), strict=True)]
        lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
        log.info("model:\n%s\n%s parameters (%s trainable), %.1f MB", "\n".join(lines),
                 get_human_readable_count(total_parameters), get_human_readable_count(trainable_parameters),
                 model_size)


class Interrupt(pl.Callback):
    """Ctrl-C or SIGTERM while training: finish the current step, save ``last.ckpt`` there and stop with one line
    (exit code 130 or 143) saying how to resume; the rerun continues from that very step. A second signal stops
    at once, saving nothing more. Outside training the entry point's handlers stop at once (run.cli)."""

    def __init__(self, check_every: int = 20):
        self.check_every = check_every  # DDP: steps between the ranks agreeing whether one was interrupted
        self.signum: int | None = None
        self.handlers: dict[int, object] = {}

    def on_sanity_check_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._install()  # a signal during the sanity check stops after the first training step

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._install()

    def _install(self) -> None:
        """Once per fit, after Lightning registered its own SIGTERM handler, which would stop without saving."""
        if not self.handlers and threading.current_thread() is threading.main_thread():
            self.signum = None
            self.handlers = {s: signal.signal(s, self._received) for s in (signal.SIGINT, signal.SIGTERM)}

    def _received(self, signum: int, frame) -> None:
        if self.signum is not None:
            raise Interrupted(f"interrupted ({signal.Signals(signum).name}) twice: stopped at once, the last "
                              "checkpoint saved before stays", signum)
        self.signum = signum

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch,
                           batch_idx: int) -> None:
        if trainer.world_size > 1:  # every rank must stop at the same step, and all take part in the save
            if (batch_idx + 1) % self.check_every or not trainer.strategy.reduce_boolean_decision(
                    self.signum is not None, all=False):
                return
            self.signum = self.signum or signal.SIGINT
        elif self.signum is None:
            return
        saved = "checkpointing is off (callbacks.checkpoint=null): nothing was saved"
        checkpoint = trainer.checkpoint_callback
        if checkpoint is not None and checkpoint.dirpath:
            path = Path(checkpoint.dirpath) / f"{checkpoint.CHECKPOINT_NAME_LAST}{checkpoint.FILE_EXTENSION}"
            trainer.save_checkpoint(path, weights_only=False)  # a full checkpoint: optimizer and loops too
            saved = f"{path} saved; rerun the same command to resume"
        self._stop(trainer, saved)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._restore()
        if self.signum is not None:  # during the last validation: training is over and checkpointed
            self._stop(trainer, "training had finished; rerun the same command to test the run")

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._restore()

    def _stop(self, trainer: pl.Trainer, saved: str) -> None:
        self._restore()
        raise Interrupted(f"interrupted ({signal.Signals(self.signum).name}) at epoch {trainer.current_epoch}, step "
                          f"{trainer.global_step}; {saved}", self.signum)

    def _restore(self) -> None:
        for signum, handler in self.handlers.items():
            signal.signal(signum, handler)
        self.handlers = {}
