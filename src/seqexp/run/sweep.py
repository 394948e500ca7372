"""Hydra callbacks that act on a whole multirun (registered in conf/train.yaml)."""

import logging
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from seqexp.run.cli import exit_on_user_error
from seqexp.run.runs import sweep_checkpoints
from seqexp.run.score import score
from seqexp.tasks.metrics import headline

log = logging.getLogger("seqexp.evaluate")


class EnsembleSweep(Callback):
    """``ensemble=true``: when a multirun ends (Hydra calls this only when every job succeeded), score the best
    checkpoints of all its runs as one ensemble on test, as ``python -m seqexp.evaluate sweep=DIR`` does, so
    ``-m experiment=X seed=1,2,3 ensemble=true`` trains and ensembles in one command."""

    def on_run_end(self, config: DictConfig, **kwargs) -> None:
        if config.get("ensemble"):
            log.warning("ensemble=true acts when a multirun (-m) ends: this single run made no ensemble")

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        if not config.get("ensemble"):
            return
        sweep = Path(config.hydra.sweep.dir)
        result = exit_on_user_error(lambda: score(sweep_checkpoints(sweep)), log=log)
        log.info("ensemble of %d runs, %s", len(result["checkpoint"]),
                 " ".join(f"{k}={v:.4f}" for k, v in result["metrics"].items() if headline(k, ("test",))))
        log.info("wrote %s", sweep / "ensemble-test.json")
