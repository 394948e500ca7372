"""seqexp's Hydra plugins, here because Hydra instantiates plugins only from the ``hydra_plugins`` package. Hydra
imports this module at every start, so the work lives in seqexp.run.optuna, imported when a sweep needs it."""

import hydra_plugins.hydra_optuna_sweeper.optuna_sweeper as optuna_sweeper


class ResumableOptunaSweeper(optuna_sweeper.OptunaSweeper):
    """Hydra's Optuna sweeper, which a rerun into the same sweep dir continues (``hparams_search=optuna``)."""

    def __init__(self, **settings) -> None:
        from seqexp.run.optuna import ResumableOptunaSweeperImpl

        self.sweeper = ResumableOptunaSweeperImpl(**settings)
