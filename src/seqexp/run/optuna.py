"""Hydra's Optuna sweeper, resumable from its sweep dir: rerun into the same ``hydra.sweep.dir``, a search runs
only the trials it still owes (``n_trials`` counts the job dirs already there), continues each interrupted trial
in its own job dir (resumed from its ``last.ckpt``, or its recorded result if it had finished) and tells the study
its value, and numbers new jobs after the old ones. Completed trials are not run again; the study, and with it
``optimization_results.yaml``, holds them all."""

import logging
from pathlib import Path

import optuna
import yaml
from hydra_plugins.hydra_optuna_sweeper._impl import OptunaSweeperImpl
from optuna.trial import TrialState

log = logging.getLogger(__name__)


class ResumableOptunaSweeperImpl(OptunaSweeperImpl):
    def sweep(self, arguments: list[str]) -> None:
        jobs = job_overrides(Path(self.config.hydra.sweep.dir))
        if jobs:
            study = self._stored_study()
            if study is not None:
                self._continue_interrupted(study, jobs)
            self.job_idx = max(jobs) + 1
            left = max(0, self.n_trials - len(jobs))
            log.info("the sweep dir holds %d of hydra.sweeper.n_trials=%d trials: %d more to run", len(jobs),
                     self.n_trials, left)
            self.n_trials = left
        super().sweep(arguments)

    def _stored_study(self) -> optuna.Study | None:
        if self.storage is None:
            return None
        try:
            return optuna.load_study(study_name=self.study_name, storage=self.storage)
        except KeyError:  # no such study yet
            return None

    def _continue_interrupted(self, study: optuna.Study, jobs: dict[int, list[str]]) -> None:
        """Trials still RUNNING whose job dir is in this sweep (a live worker of a shared study has none here):
        their process died. Each runs again in its own job dir, and the study hears its value."""
        free = dict(jobs)
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            wanted = {f"{name}={value}" for name, value in trial.params.items()}  # as the sweeper writes them
            job = next((n for n, overrides in free.items() if wanted and wanted <= set(overrides)), None)
            if job is None:
                continue
            overrides = free.pop(job)
            log.info("trial %d was interrupted: continuing it in job %d", trial.number, job)
            [ret] = self.launcher.launch([overrides], initial_job_idx=job)
            try:
                study.tell(trial.number, ret.return_value)
            except Exception as e:  # noqa: BLE001 - the job failed: the trial failed, as a first run's would
                log.warning("trial %d failed: %s", trial.number, e)
                study.tell(trial.number, state=TrialState.FAIL)


def job_overrides(sweep: Path) -> dict[int, list[str]]:
    """The overrides of each job dir (``hydra.sweep.subdir`` is the job number) already in ``sweep``."""
    paths = sweep.glob("*/.hydra/overrides.yaml") if sweep.is_dir() else []
    return {int(p.parent.parent.name): yaml.safe_load(p.read_text()) or [] for p in paths
            if p.parent.parent.name.isdigit()}
