"""Two Optuna workers, two processes with sweep dirs of their own as on two nodes, share one study on a real
PostgreSQL server (tests/cluster/local_postgres.sh) through ``hydra.sweeper.storage=postgresql://...``."""

from pathlib import Path

import optuna
import pytest
import yaml

from helpers import finish, read_metrics
from helpers import start_seqexp as seqexp

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

TRIALS_PER_WORKER = 3


def test_two_workers_complete_n_distinct_trials_in_one_postgres_study(postgres, tmp_path):
    # as Optuna advises for distributed runs: create the study once, then start the workers
    optuna.create_study(storage=postgres, study_name="shared", direction="maximize")
    workers = [seqexp(tmp_path, "-m", "hparams_search=optuna", f"hydra.sweeper.n_trials={TRIALS_PER_WORKER}",
                      f"hydra.sweeper.storage={postgres}", "hydra.sweeper.study_name=shared",
                      f"hydra.sweeper.sampler.seed={worker}", f"hydra.sweep.dir={tmp_path}/worker{worker}",
                      "trainer.max_epochs=1", "+trainer.limit_train_batches=5", "threads=1")
               for worker in (1, 2)]
    for worker in workers:
        finish(worker)

    trials = optuna.load_study(study_name="shared", storage=postgres).trials
    n = 2 * TRIALS_PER_WORKER
    assert sorted(t.number for t in trials) == list(range(n))  # none lost, none counted twice
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    jobs = [job for worker in (1, 2) for job in sorted((tmp_path / f"worker{worker}").glob("[0-9]*"))]
    assert len(jobs) == n  # each trial ran once, in one worker's sweep dir
    # each job told the study its own result: trial params -> that job's monitored metric
    by_params = {frozenset(f"{k}={v}" for k, v in t.params.items()): t.value for t in trials}
    assert len(by_params) == n
    swept = {name for t in trials for name in t.params}
    for job in jobs:
        result = read_metrics(job)
        assert by_params[_swept_overrides(job, swept)] == pytest.approx(result["metrics"][result["monitor"]])


def _swept_overrides(job: Path, swept: set[str]) -> frozenset:
    """The job's overrides of the swept keys, as the sweeper wrote them from its trial's parameters."""
    overrides = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
    return frozenset(o for o in overrides if o.split("=")[0] in swept)
