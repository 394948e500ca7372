"""Weights & Biases that never hangs or prompts: online with an API key and a network, else offline; the run
page's figures as images for the loggers that show them."""

import logging
import netrc
import os
import socket
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from matplotlib.figure import Figure
from pytorch_lightning.loggers import TensorBoardLogger, WandbLogger

from seqexp.plots.figures import pixels

log = logging.getLogger(__name__)

HOST = "api.wandb.ai"
NOT_IN_NAME = ("hydra.", "logger", "callbacks.", "trainer.")


def wandb(project: str, save_dir: str, offline: bool | None = None, log_model: bool = False,
          id: str | None = None, **kwargs) -> WandbLogger:
    """A WandbLogger named by the run's overrides (``model=gru,task=ner``) and grouped by sweep.

    ``offline=None`` decides by itself: offline when there is no API key (WANDB_API_KEY or ~/.netrc) or
    api.wandb.ai cannot be reached in 3 s, and says how to upload the run later.
    """
    if offline is None:
        offline = _offline_reason() is not None
        if offline:
            log.info("W&B: %s, logging offline; upload later with: wandb sync %s/wandb/offline-run-*",
                     _offline_reason(), save_dir)
    hydra = HydraConfig.get()
    # the overrides that say what is being compared; run budgets and plumbing (trainer.*, callbacks.*) aside
    overrides = [o for o in hydra.overrides.task if not o.lstrip("+~").startswith(NOT_IN_NAME)]
    kwargs.setdefault("name", ",".join(overrides) or None)
    if hydra.mode == RunMode.MULTIRUN:
        kwargs.setdefault("group", Path(hydra.sweep.dir).as_posix().replace("/", "_").strip("_"))
    if id is not None:
        kwargs["resume"] = "allow"  # continue the interrupted run's W&B run
    return WandbLogger(project=project, save_dir=save_dir, offline=offline, log_model=log_model, id=id, **kwargs)


def _offline_reason() -> str | None:
    mode = os.environ.get("WANDB_MODE", "")
    if mode in ("offline", "dryrun", "disabled"):
        return f"WANDB_MODE={mode}"
    if not os.environ.get("WANDB_API_KEY") and not _netrc_key():
        return "no API key"
    try:
        socket.create_connection((HOST, 443), timeout=3).close()
    except OSError:
        return f"{HOST} unreachable"
    return None


def _netrc_key() -> bool:
    try:
        return netrc.netrc().authenticators(HOST) is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def log_figures(loggers: list, figures: dict[str, Figure], step: int) -> None:
    """Each figure as ``report/<name>``: a W&B image, a TensorBoard image; the CSV logger keeps numbers only."""
    shown = [lg for lg in loggers if isinstance(lg, WandbLogger | TensorBoardLogger)]
    images = {name: pixels(fig) for name, fig in figures.items()} if shown else {}  # drawn once for all of them
    for logger in shown:
        for name, image in images.items():
            if isinstance(logger, WandbLogger):
                logger.log_image(f"report/{name}", [image], step=step)
            else:
                logger.experiment.add_image(f"report/{name}", image, step, dataformats="HWC")
