"""``python -m seqexp``: compose the config (Hydra), train, test the best checkpoint, write metrics.json."""

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from seqexp.run.build import CONF
from seqexp.run.cli import exit_on_user_error, quiet
from seqexp.run.fit import log, train

quiet()  # at import: sweepers (Optuna's sqlite storage) log before the first job starts


@hydra.main(version_base="1.3", config_path=CONF, config_name="train")
def main(cfg: DictConfig) -> float | None:
    result = exit_on_user_error(train, cfg, log=log, sweep=HydraConfig.get().mode == RunMode.MULTIRUN)
    return result["metrics"].get(cfg.monitor)  # what a sweeper (Optuna) optimises


if __name__ == "__main__":
    main()
