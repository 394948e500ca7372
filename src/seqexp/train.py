"""``python -m seqexp``: compose the config (Hydra), train, test the best checkpoint, write metrics.json."""

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from seqexp.run.build import CONF
from seqexp.run.cli import exit_on_user_error, quiet
from seqexp.run.fit import log, train

quiet()  # at import: sweepers (Optuna's sqlite storage) log before the first job starts
# set once Hydra has composed a config and called run; a plain dict, as launchers that pickle run by value
# (joblib, submitit: cloudpickle) must pickle what it refers to
COMPOSED = {"done": False}


@hydra.main(version_base="1.3", config_path=CONF, config_name="train")
def run(cfg: DictConfig) -> float | None:
    COMPOSED["done"] = True
    result = exit_on_user_error(train, cfg, log=log, sweep=HydraConfig.get().mode == RunMode.MULTIRUN)
    return result["metrics"].get(cfg.monitor)  # what a sweeper (Optuna) optimises


def main() -> None:
    """A command line Hydra cannot compose (an unknown ``model=``, a key set without ``+``) is Hydra's one line and,
    like every other input error, exit code 2: Hydra would exit 1, the code of a bug, before seqexp's code runs."""
    try:
        run()
    except SystemExit as e:
        if e.code == 1 and not COMPOSED["done"]:
            sys.exit(2)
        raise


if __name__ == "__main__":
    main()
